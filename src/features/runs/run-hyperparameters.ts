import { hyperparameterKey, isReservedHyperparameter } from '../../shared/hyperparameters.js'

type Value = string | number | boolean

/**
 * A job's hyperparameters as the user set them: wire values JSON-decoded (SageMaker and the local
 * hyperparameters.json both JSON-encode each value), SageMaker's own keys (sagemaker_*, the tuner's
 * _tuning_objective_metric) left out, and names written one way (`batch_size` = `batch-size`), so a
 * local and a SageMaker run compare equal when they were given the same values.
 */
export function decodeHyperparameters(wire: Readonly<Record<string, string>> | undefined): Record<string, Value> {
  const out: Record<string, Value> = {}
  for (const [k, v] of Object.entries(wire ?? {})) {
    if (isReservedHyperparameter(k)) continue
    out[hyperparameterKey(k)] = decodeValue(v)
  }
  return out
}

function decodeValue(v: string): Value {
  try {
    const parsed = JSON.parse(v) as unknown
    return typeof parsed === 'string' || typeof parsed === 'number' || typeof parsed === 'boolean' ? parsed : v
  } catch {
    return v
  }
}

/** The names whose values are not the same in every run (a name missing from some run counts as differing). */
export function differingHyperparameters(all: readonly Readonly<Record<string, Value>>[]): string[] {
  if (all.length < 2) return []
  const names = [...new Set(all.flatMap((hp) => Object.keys(hp)))].sort()
  return names.filter((n) => new Set(all.map((hp) => (n in hp ? JSON.stringify(hp[n]) : '<unset>'))).size > 1)
}
