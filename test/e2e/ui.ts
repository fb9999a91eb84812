// The Temporal UI in a real browser: Debian's Chromium driven by playwright-core.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.KILN_CHROMIUM ?? '/usr/bin/chromium';

export async function checkTemporalUi(uiUrl: string, workflowId: string, screenshot?: string): Promise<void> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // This machine's network is closed: no background fetches, no first-run services.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
    await page.goto(`${uiUrl}/namespaces/default/workflows`, { waitUntil: 'domcontentloaded' });
    // The list shows the run with its type and state.
    const link = page.getByText(workflowId, { exact: true }).first();
    await link.waitFor({ timeout: 60_000 });
    await assert.doesNotReject(page.getByText('llmPipeline').first().waitFor({ timeout: 30_000 }));
    await link.click();
    // The run's page: completed, with every stage in its event history (compact view: one row
    // per activity) and the training run as a child workflow.
    await page.getByText('Completed').first().waitFor({ timeout: 60_000 });
    await page.getByText('Event History').first().click();
    await page.getByText('Compact', { exact: true }).first().click();
    for (const name of ['ingestPart', 'ingestCommit', 'cleanPart', 'cleanCommit', 'dedupWorkflow', 'dataReportStage', 'tokenizerStage', 'shardPart', 'shardCommit', 'exportModelStage', 'evalPlan', 'generatePart', 'executePart', 'evalCommit', 'deployModel', 'registerDeployment', 'trainingRun']) {
      await page.getByText(name, { exact: true }).first().waitFor({ state: 'attached', timeout: 60_000 });
    }
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  } finally {
    await browser.close();
  }
}
