import fs from 'node:fs';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const MONITORING = 'docs/monitoring';
/** Every rule file of the pack (CI runs promtool on the same glob). */
const RULE_FILES = fs
  .readdirSync(MONITORING)
  .filter((f) => f.endsWith('.rules.yml'))
  .map((f) => `${MONITORING}/${f}`);
const DASHBOARD = 'docs/monitoring/grafana-dashboard.json';

// PromQL's own words: functions, aggregations, operators and modifiers are not metric names.
const PROMQL_WORDS = new Set(
  (
    'abs absent absent_over_time avg avg_over_time bottomk ceil changes clamp clamp_max clamp_min count ' +
    'count_over_time count_values delta deriv exp floor group histogram_quantile increase irate label_join ' +
    'label_replace last_over_time ln log2 log10 max max_over_time min min_over_time predict_linear quantile ' +
    'quantile_over_time rate resets round scalar sort sort_desc sqrt stddev stddev_over_time sum ' +
    'sum_over_time time timestamp topk vector and or unless bool offset inf nan ' +
    'day_of_week day_of_month days_in_month hour minute month year'
  ).split(' '),
);
/** Series Prometheus makes itself for every target, never served by the target. */
const PROMETHEUS_MADE = new Set(['up']);

/** The metric names a PromQL expression reads. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values, regexes)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\boffset\s+\w+/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' '); // numbers
  const words = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(words.filter((w) => !PROMQL_WORDS.has(w)))];
}

/** Every series name /metrics can serve, from its TYPE lines (a histogram serves _bucket/_sum/_count). */
function servedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram' || type === 'summary')
      for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
  }
  return names;
}

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * The rules of a Prometheus rule file, read by line: enough for the file this project writes (a
 * `- alert:` starts a rule; `expr:` is inline or a folded `>-` block; `severity:`/`summary:` as
 * keys). promtool (.ci/run) checks the file is a valid rule file; this only needs the expressions.
 */
function ruleExprs(): Rule[] {
  const rules: Rule[] = [];
  const lines = RULE_FILES.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n'));
  const indent = (l: string) => l.length - l.trimStart().length;
  const value = (v: string) =>
    v
      .trim()
      .replace(/^'(.*)'$/, '$1')
      .replace(/^"(.*)"$/, '$1');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const alert = /^\s*- alert: (.+)$/.exec(line);
    if (alert) {
      rules.push({ alert: value(alert[1] as string), expr: '', labels: {}, annotations: {} });
      continue;
    }
    const rule = rules.at(-1);
    const kv = /^\s*(expr|severity|summary): ?(.*)$/.exec(line);
    if (!rule || !kv) continue;
    let v = kv[2] as string;
    if (v === '>-' || v === '>' || v === '|') {
      const parts: string[] = [];
      while (
        i + 1 < lines.length &&
        (lines[i + 1]?.trim() === '' || indent(lines[i + 1] as string) > indent(line))
      )
        parts.push((lines[++i] as string).trim());
      v = parts.join(' ');
    }
    if (kv[1] === 'expr') rule.expr = value(v);
    else if (kv[1] === 'severity') (rule.labels as Record<string, string>).severity = value(v);
    else (rule.annotations as Record<string, string>).summary = value(v);
  }
  return rules;
}

function dashboardExprs(): { title: string; expr: string }[] {
  const d = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  return d.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr.replace(/\$__rate_interval/g, '5m') })),
  );
}

describe('monitoring pack (docs/monitoring)', () => {
  let t: TestGateway;
  let served: Set<string>;

  beforeAll(async () => {
    // Kaspi QR on (r1: no certificate to make; nothing is called), so its series are served too.
    t = await startTestGateway('sqlite', {
      KASPI_QR_SCHEME: 'r1',
      KASPI_QR_BASE_URL: 'https://127.0.0.1:9/r1/v01',
      KASPI_QR_API_KEY: 'test_monitoring-pack-api-key-01',
    });
    // As the real service does at start (src/main.ts): process and Node metrics on.
    t.gateway.metrics.collectProcessMetrics();
    served = servedNames((await t.admin().get('/metrics')).text);
  });
  afterAll(() => t.close());

  it('when the names are read from an expression, then metrics come out and PromQL words do not', () => {
    expect(
      metricNames(
        'time() - max by (exported_job) (foo_seconds{job="a-b",x=~"5.."}[5m] offset 1d) > 2 * bar_total / 1e3',
      ).sort(),
    ).toEqual(['bar_total', 'foo_seconds']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) > 0.5')).toEqual([
      'h_bucket',
    ]);
  });

  it('when the alert rules name a metric, then /metrics serves it', () => {
    const rules = ruleExprs();
    expect(rules.length).toBeGreaterThanOrEqual(10);
    expect(RULE_FILES).toContain(`${MONITORING}/kaspi-qr.rules.yml`);
    expect(RULE_FILES).toContain(`${MONITORING}/reconcile.rules.yml`);
    const written = RULE_FILES.map((f) => fs.readFileSync(f, 'utf8').match(/^\s*- alert:/gm)?.length ?? 0);
    expect(rules.length).toBe(written.reduce((a, b) => a + b, 0));
    const missing: string[] = [];
    for (const r of rules) {
      const names = metricNames(r.expr);
      expect(names.length).toBeGreaterThan(0);
      for (const n of names) if (!served.has(n) && !PROMETHEUS_MADE.has(n)) missing.push(`${r.alert}: ${n}`);
    }
    expect(missing).toEqual([]);
  });

  it('when the dashboard charts a metric, then /metrics serves it', () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    const missing = exprs.flatMap(({ title, expr }) =>
      metricNames(expr)
        .filter((n) => !served.has(n))
        .map((n) => `${title}: ${n}`),
    );
    expect(missing).toEqual([]);
  });

  it('when the spec lists the dashboard, then it charts each: requests, latency, credits, refunds, QR, reconciliation', () => {
    const charted = new Set(dashboardExprs().flatMap(({ expr }) => metricNames(expr)));
    for (const n of [
      'gateway_requests_total',
      'gateway_request_duration_seconds_bucket',
      'gateway_pending_credits',
      'gateway_refunds',
      'gateway_kaspi_qr_payments',
      'gateway_reconcile_open_items',
      'gateway_reconcile_covered_until_timestamp_seconds',
      'gateway_reconcile_runs_total',
    ])
      expect([n, charted.has(n)]).toEqual([n, true]);
  });

  it('when a rule is written, then it has a name, a severity and a summary, and the names are unique', () => {
    const rules = ruleExprs();
    for (const r of rules) {
      expect(r.alert).toMatch(/^Gateway[A-Za-z0-9]+$/);
      expect(['page', 'ticket']).toContain(r.labels?.severity);
      expect(r.annotations?.summary).toBeTruthy();
    }
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });

  it('when the spec lists what must alert, then a rule covers each one this code serves', () => {
    const exprs = ruleExprs().map((r) => r.expr);
    const covers = (re: RegExp) => exprs.some((e) => re.test(e));
    expect(
      covers(/gateway_oldest_pending_age_seconds\{kind="payment"\}.*gateway_credit_stuck_after_seconds/),
    ).toBe(true);
    expect(covers(/gateway_refunds\{status="fatal"\}/)).toBe(true);
    expect(covers(/gateway_refunds_flagged/)).toBe(true);
    expect(covers(/status=~"5\.\."/)).toBe(true);
    expect(covers(/result="5"/)).toBe(true);
    // the folded (multi-line) expressions are read to their end: the day-long baseline is there
    expect(covers(/> 2 \* \(sum\(rate\(gateway_requests_total\{status=~"5\.\."\}\[1d\]\)\)/)).toBe(true);
    expect(covers(/gateway_metrics_database_up/)).toBe(true);
    expect(covers(/gateway_job_last_finished_timestamp_seconds/)).toBe(true);
    // Kaspi QR (kaspi-qr.rules.yml): a lost remote/create, the amount check, returns, the certificate.
    expect(covers(/gateway_kaspi_qr_remote_invoices\{state="unknown"\}/)).toBe(true);
    expect(covers(/gateway_kaspi_qr_paid_checks_total\{outcome=~"mismatch\|failed"\}/)).toBe(true);
    expect(covers(/gateway_kaspi_qr_returns\{status="new"\}/)).toBe(true);
    expect(covers(/gateway_kaspi_qr_cert_expiry_seconds/)).toBe(true);
    // Reconciliation (reconcile.rules.yml): overdue items, no registry for the last business days, a failed
    // run, action items waiting, the watch job not running.
    expect(covers(/gateway_reconcile_overdue_items/)).toBe(true);
    expect(covers(/gateway_reconcile_covered_until_timestamp_seconds/)).toBe(true);
    expect(covers(/gateway_reconcile_runs_total\{status="failed"\}/)).toBe(true);
    expect(covers(/gateway_reconcile_oldest_open_action_age_seconds/)).toBe(true);
    expect(covers(/gateway_job_last_finished_timestamp_seconds\{cron_job="reconcile-watch"\}/)).toBe(true);
  });

  it('when the config sets RETRY_STUCK_AFTER_MS, then /metrics serves it in seconds for the rule', async () => {
    const m = (await t.admin().get('/metrics')).text;
    expect(m).toMatch(
      new RegExp(`^gateway_credit_stuck_after_seconds ${t.config.RETRY_STUCK_AFTER_MS / 1000}$`, 'm'),
    );
    expect(m).toMatch(/^gateway_refunds_flagged 0$/m);
  });
});
