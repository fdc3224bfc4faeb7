// Discovery documents for external.metrics.k8s.io/v1beta1 (reference A2). Plain application/json: the aggregator falls
// back to legacy discovery, which needs a non-empty APIResourceList (an empty one makes every kubectl run complain).
export const GROUP = 'external.metrics.k8s.io';
export const VERSION = 'v1beta1';
export const GROUP_VERSION = `${GROUP}/${VERSION}`;
/** Listed when the provider has no metric names yet (KEDA does the same). */
export const PLACEHOLDER_RESOURCE = 'externalmetrics';
/** Bound on the discovery list: thousands of entries flood `kubectl api-resources`. */
export const MAX_DISCOVERY_RESOURCES = 500;

const versionRef = { groupVersion: GROUP_VERSION, version: VERSION };
const group = { name: GROUP, versions: [versionRef], preferredVersion: versionRef };

export const API_GROUP_LIST_JSON = JSON.stringify({ kind: 'APIGroupList', apiVersion: 'v1', groups: [group] });
export const API_GROUP_JSON = JSON.stringify({ kind: 'APIGroup', apiVersion: 'v1', ...group });

export function apiResourceList(metricNames: readonly string[]): object {
  const names = [...new Set(metricNames)].sort().slice(0, MAX_DISCOVERY_RESOURCES);
  if (names.length === 0) names.push(PLACEHOLDER_RESOURCE);
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: GROUP_VERSION,
    resources: names.map((name) => ({
      name,
      singularName: '',
      namespaced: true,
      kind: 'ExternalMetricValueList',
      verbs: ['get'],
    })),
  };
}

/** Re-renders the APIResourceList only when the provider's name list changes. */
export class ResourceListCache {
  private key = '\u0000';
  private json = '';
  render(metricNames: readonly string[]): string {
    const key = metricNames.join('\u0000');
    if (key !== this.key) {
      this.key = key;
      this.json = JSON.stringify(apiResourceList(metricNames));
    }
    return this.json;
  }
}
