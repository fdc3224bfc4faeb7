// Baton's Grafana dashboards as code. `npm run dashboards:build` writes them to manifests/dashboards/*.json (committed;
// test/dashboards checks for drift). dashboardQueries() lists every panel's PromQL with the variables filled in, so a
// test can run each one against a real Prometheus.
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { adapterDashboard } from './adapter.js';
import { serviceDashboard } from './service.js';

export interface DashboardFile {
  /** File name under manifests/dashboards/. */
  file: string;
  dashboard: Dashboard;
}

export function dashboards(): DashboardFile[] {
  return [
    { file: 'baton-service.json', dashboard: serviceDashboard() },
    { file: 'baton-adapter.json', dashboard: adapterDashboard() },
  ];
}

/** The committed form: 2-space JSON with a trailing newline (stable: the builders always emit keys in one order). */
export function renderDashboardJson(d: Dashboard): string {
  return JSON.stringify(d, null, 2) + '\n';
}

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  /** The PromQL with every dashboard variable replaced. */
  expr: string;
  /** The PromQL as stored in the dashboard ($variables left in). */
  rawExpr: string;
}

interface PanelLike {
  title?: string;
  panels?: PanelLike[];
  targets?: { refId?: string; expr?: unknown }[];
}

/** Default value of each variable of a dashboard (its `current` value), the datasource variable excepted. */
export function variableDefaults(d: Dashboard): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of d.templating?.list ?? []) {
    if (v.type === 'datasource') continue;
    const value = v.current?.value;
    if (typeof value !== 'string') throw new Error(`dashboard '${d.title}': variable '${v.name}' has no default value`);
    out[v.name] = value;
  }
  return out;
}

/** Replaces $name and ${name} with values[name]; an unknown variable is an error naming it. */
export function interpolate(expr: string, values: Record<string, string>, where = 'query'): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = values[name];
    if (value === undefined) throw new Error(`${where}: unknown dashboard variable '$${name}' in ${JSON.stringify(expr)}`);
    return value;
  });
}

/** Every panel's PromQL. `values` overrides the dashboards' variable defaults (e.g. {service: 'sim'}). */
export function dashboardQueries(values: Record<string, string> = {}): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const { dashboard } of dashboards()) {
    const vars = { ...variableDefaults(dashboard), ...values };
    const walk = (panels: PanelLike[]) => {
      for (const p of panels) {
        if (p.panels) walk(p.panels);
        for (const t of p.targets ?? []) {
          if (typeof t.expr !== 'string') continue;
          const where = `dashboard '${dashboard.title}', panel '${p.title ?? '?'}', query ${t.refId ?? '?'}`;
          out.push({ dashboard: dashboard.title ?? '', panel: p.title ?? '', refId: t.refId ?? '', rawExpr: t.expr, expr: interpolate(t.expr, vars, where) });
        }
      }
    };
    walk((dashboard.panels ?? []) as PanelLike[]);
  }
  return out;
}
