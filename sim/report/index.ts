// Readable output of `baton simulate`: terminal table, JSON document, HTML report, progress bar.
export { formatTable, type TableOptions } from './table.js';
export { toJson, REPORT_JSON_FORMAT, type JsonReport, type JsonPolicy, type JsonPlan, type JsonPool } from './json.js';
export { renderHtml, type HtmlOptions } from './html.js';
export { createProgress, type Progress, type ProgressOptions } from './progress.js';
export { checkMeta, type ReportMeta, type ReportService } from './meta.js';
