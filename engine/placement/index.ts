// Pure placement: topology view, RDMA tiers, Deployment Groups, Algorithm 4, heterogeneous pool split.
export * from './types.js';
export * from './labels.js';
export { buildTopology, describeSubgroups, poolKey, type TopologyView, type HeldSlots } from './topology.js';
export { planPlacement, validateSpecs, type PlanOptions } from './place.js';
