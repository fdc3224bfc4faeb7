// `when` conditions: json-logic over the local time and the observed values, e.g.
//   {"and": [{">=": [{"var": "hour"}, 8]}, {">": [{"var": "values.decodeTps"}, 1000]}]}
import jsonLogic from 'json-logic-js';
import type { WhenCondition } from './types.js';

export interface WhenData {
  hour: number;
  minute: number;
  /** 0 = Sunday … 6 = Saturday, in the rule's local time. */
  weekday: number;
  /** Observed values by name: decodeTps and each guard's name; undefined when missing. */
  values: Record<string, number | undefined>;
}

export function whenData(nowS: number, utcOffsetS: number, values: Record<string, number | undefined>): WhenData {
  const local = new Date((nowS + utcOffsetS) * 1000);
  return { hour: local.getUTCHours(), minute: local.getUTCMinutes(), weekday: local.getUTCDay(), values };
}

export function evaluateWhen(cond: WhenCondition, data: WhenData): boolean {
  return jsonLogic.truthy(jsonLogic.apply(cond as jsonLogic.RulesLogic, data as unknown as Record<string, unknown>));
}

/** undefined when the condition is usable json-logic; otherwise why not (unknown operator, not logic at all). */
export function whenProblem(cond: unknown): string | undefined {
  if (!jsonLogic.is_logic(cond)) return 'is not a json-logic expression (an object with exactly one operator key)';
  try {
    jsonLogic.apply(cond as jsonLogic.RulesLogic, { hour: 12, minute: 0, weekday: 1, values: {} });
  } catch (e) {
    return `is not valid json-logic: ${(e as Error).message}`;
  }
  return undefined;
}
