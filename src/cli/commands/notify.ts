/** `drain notify test`: posts a sample end-of-session notification to the configured webhook(s). */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { sampleNotification } from '../../domain/notification.js';
import { redactWebhookUrl } from '../../domain/redact.js';
import { parseNotifyUrls, postJson } from '../../runtime/notify.js';
import { UsageError } from '../env.js';

const TEST_HELP = `
Posts a sample of the JSON a worker posts when a session ends (session id "notify-test")
to each webhook in DRAIN_NOTIFY_URL (several separated by whitespace or commas), as a worker
would, once, with a 10 s timeout, and prints one line per webhook: its scheme and host only
(the URL is a secret) and the HTTP status, or why no answer came. Run it with the workers'
environment. The body has a Slack-compatible "text" field: a Slack incoming webhook shows it.

Exit codes: 0 every webhook answered 2xx; 1 one did not; 2 DRAIN_NOTIFY_URL is not set or
not a list of http(s) URLs.
`;

export function registerNotify(program: Command): void {
  const notify = program
    .command('notify')
    .description('end-of-session notifications to webhooks (DRAIN_NOTIFY_URL on the workers)');
  notify
    .command('test')
    .description('post a sample notification to the DRAIN_NOTIFY_URL webhook(s) and print the HTTP status')
    .addHelpText('after', TEST_HELP)
    .action(async () => {
      let urls: string[];
      try {
        urls = parseNotifyUrls(process.env.DRAIN_NOTIFY_URL);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (urls.length === 0) {
        throw new UsageError('DRAIN_NOTIFY_URL is not set: set it to the webhook URL(s) the workers use');
      }
      const body = sampleNotification(hostname());
      let failed = 0;
      for (const url of urls) {
        const r = await postJson(url, body, { timeoutMs: 10_000, known: urls });
        if (!r.ok) failed++;
        const what = r.status !== null ? `HTTP ${r.status}` : 'no answer';
        console.log(`${redactWebhookUrl(url)}: ${what}${r.ok ? '' : ` (${r.error})`}`);
      }
      process.exitCode = failed ? 1 : 0;
    });
}
