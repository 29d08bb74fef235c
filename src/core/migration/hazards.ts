// The hazard types live with the machine that reports them (src/core/vm/hazards.ts).
export { HAZARD_TITLES } from '../vm/hazards';
export type { CutPoint, Hazard, HazardKind } from '../vm/hazards';
