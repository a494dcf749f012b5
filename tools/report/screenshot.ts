/**
 * A PNG of a report page, for the README (assets/report.png): opens the HTML file in Debian's
 * headless Chromium (playwright-core), offline, and captures the top of the page.
 *
 *   npx tsx tools/report/screenshot.ts <report.html> <out.png> [--full]
 */
import { chromium } from 'playwright-core'

const CHROMIUM = process.env.MLOPS_CHROMIUM ?? '/usr/bin/chromium'

/** Screenshots `html` (a file path) into `png`; the first screenful unless `full`. */
export async function screenshotReport(html: string, png: string, opts: { full?: boolean; width?: number; height?: number } = {}): Promise<void> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  try {
    const page = await browser.newPage({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 1400 }, deviceScaleFactor: 1 })
    await page.route(/^(?!file:|data:)/, (route) => route.abort()) // the report must need nothing from outside
    await page.goto(`file://${html}`)
    await page.screenshot({ path: png, fullPage: Boolean(opts.full), type: 'png' })
  } finally {
    await browser.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [html, png] = process.argv.slice(2)
  if (!html || !png) {
    process.stderr.write('usage: tsx tools/report/screenshot.ts <report.html> <out.png> [--full]\n')
    process.exit(2)
  }
  await screenshotReport(html, png, { full: process.argv.includes('--full') })
}
