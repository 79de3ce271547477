// The operator settings every planner reads (chart values / flags): the default image, the GPU resource name and
// the pull policy. Apart from plan.ts so that the planners it calls can read it without importing it back.
export interface PlanConfig {
  defaultImage: string;
  gpuResourceName: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
}
