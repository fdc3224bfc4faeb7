// Small helpers over @grafana/grafana-foundation-sdk so each dashboard reads as a list of panels and their PromQL.
import * as common from '@grafana/grafana-foundation-sdk/common';
import { DatasourceVariableBuilder, QueryVariableBuilder, TextBoxVariableBuilder, VariableHide, VariableRefresh } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** Every panel and query reads the dashboard's `datasource` variable, so one JSON works with any Prometheus. */
export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

export interface Query {
  expr: string;
  legend: string;
}

export interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  /** Panel width in grid units (24 = full width); default 12. */
  width?: number;
  bars?: boolean;
  min?: number;
  max?: number;
}

function targets(queries: Query[]): DataqueryBuilder[] {
  return queries.map((q, i) =>
    new DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(String.fromCharCode(65 + i))
      .expr(q.expr)
      .legendFormat(q.legend)
      .range(),
  );
}

export function timeseries(id: number, p: PanelSpec): TimeseriesPanelBuilder {
  let b = new TimeseriesPanelBuilder()
    .id(id)
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .span(p.width ?? 12)
    .height(8)
    .legend(new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (p.bars) b = b.drawStyle(common.GraphDrawStyle.Bars).fillOpacity(80).stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (p.min !== undefined) b = b.min(p.min);
  if (p.max !== undefined) b = b.max(p.max);
  for (const t of targets(p.queries)) b = b.withTarget(t);
  return b;
}

export function stat(id: number, p: PanelSpec): StatPanelBuilder {
  let b = new StatPanelBuilder()
    .id(id)
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .span(p.width ?? 6)
    .height(4)
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.Area);
  for (const t of targets(p.queries)) b = b.withTarget(t);
  return b;
}

export function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus');
}

/** A variable listing the values of `label` on `metric`; `fallback` is what dashboardQueries() substitutes. */
export function labelVariable(name: string, label: string, metric: string, fallback: string): QueryVariableBuilder {
  const query = `label_values(${metric}, ${label})`;
  return new QueryVariableBuilder(name)
    .label(name)
    .datasource(DATASOURCE)
    .query({ query, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 })
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .current({ text: fallback, value: fallback })
    .sort(1);
}

export function textVariable(name: string, label: string, value: string, description: string): TextBoxVariableBuilder {
  return new TextBoxVariableBuilder(name)
    .label(label)
    .description(description)
    .defaultValue(value)
    .current({ text: value, value })
    .hide(VariableHide.DontHide);
}
