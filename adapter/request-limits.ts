// What a request may name before anything is authorized or cached: a namespace is a DNS-1123 label (as the
// kube-apiserver requires), a metric name and a label selector have bounded lengths. Checked first, so hostile input
// neither reaches the SubjectAccessReview nor grows a cache.
export const MAX_NAMESPACE_LENGTH = 63;
/** A resource name in a path segment: the kube-apiserver's DNS-1123 subdomain bound. */
export const MAX_METRIC_NAME_LENGTH = 253;
/** Far above any HPA selector (`service=chat,pool=decode-h200`), far below what fills memory. */
export const MAX_SELECTOR_LENGTH = 4096;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why the request's names are refused (a 400 message), or undefined when they are fine. */
export function requestNameProblem(namespace: string, metric: string, selectorText: string): string | undefined {
  if (namespace.length > MAX_NAMESPACE_LENGTH || !DNS1123_LABEL.test(namespace)) {
    return `invalid namespace "${namespace.slice(0, 80)}${namespace.length > 80 ? '…' : ''}": a namespace must be a DNS-1123 label (lowercase alphanumerics and '-', at most ${MAX_NAMESPACE_LENGTH} characters)`;
  }
  if (metric.length > MAX_METRIC_NAME_LENGTH) return `metric name is ${metric.length} characters long (at most ${MAX_METRIC_NAME_LENGTH})`;
  if (selectorText.length > MAX_SELECTOR_LENGTH) return `labelSelector is ${selectorText.length} characters long (at most ${MAX_SELECTOR_LENGTH})`;
  return undefined;
}
