import { chromium } from 'playwright-core';
const base = 'http://localhost:3999';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
await page.goto(`${base}/sign-in`);
await page.fill('input[type=email]', 'admin@example.com');
await page.fill('input[type=password]', 'correct-horse-battery');
await page.click('button[type=submit]');
await page.waitForTimeout(1500);
await page.goto(`${base}/`);
for (let i = 0; i < 14; i++) {
  await page.waitForSelector('textarea:not([disabled])');
  await page.fill('textarea', `message ${i}`);
  await page.keyboard.press('Enter');
  await page.waitForTimeout(1300);
}
await page.goto(`${base}/usage`);
await page.waitForSelector('text=Last 30 days');
await page.waitForTimeout(1500);
await page.click('button[aria-label^="Notifications"]');
await page.waitForTimeout(1000);
await page.screenshot({ path: '/tmp/cm-shot/bell2.png' });
const chart = await page.$('.usage-chart');
await chart.screenshot({ path: '/tmp/cm-shot/chart2.png' });
console.log('errors:', JSON.stringify(errors));
await browser.close();
