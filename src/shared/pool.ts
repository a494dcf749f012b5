/**
 * Runs `worker` over `items`, at most `concurrency` at once, each lane taking the next item when it
 * is done (so one slow item never holds up the others, as a fixed batch would). Stops taking new
 * items when the signal aborts or an item fails, and returns only once every lane has settled, so no
 * work is left running behind the caller's back. Then throws the first failure, unless the signal
 * aborted: the caller, which knows what an interruption means, checks the signal itself.
 */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0
  let failure: { error: unknown } | undefined
  const lane = async () => {
    while (!failure && !signal?.aborted && next < items.length) {
      const index = next++
      try {
        await worker(items[index], index)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane))
  if (failure && !signal?.aborted) throw failure.error
}
