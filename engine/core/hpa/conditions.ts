// setConditionInList (horizontal.go): find the condition by type or append it; stamp lastTransitionTime only when
// the status flips; always overwrite reason and message. Returns a new list, never mutates the old one.

import type { ConditionStatus, ConditionType, HpaCondition } from './types.js';

export function setCondition(
  conditions: readonly HpaCondition[],
  type: ConditionType,
  status: ConditionStatus,
  reason: string,
  message: string,
  now: number,
): HpaCondition[] {
  const list = conditions.map((c) => ({ ...c }));
  let existing = list.find((c) => c.type === type);
  if (existing === undefined) {
    existing = { type, status, reason, message, lastTransitionTime: now };
    list.push(existing);
  }
  if (existing.status !== status) existing.lastTransitionTime = now;
  existing.status = status;
  existing.reason = reason;
  existing.message = message;
  return list;
}

export function findCondition(conditions: readonly HpaCondition[], type: ConditionType): HpaCondition | undefined {
  return conditions.find((c) => c.type === type);
}
