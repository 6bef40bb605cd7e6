/** What the validators send and the app forwards, plus what only the simulator knows. */
import type { MediaType } from '@ridetally/domain';

export interface SimTapMedia {
  type: MediaType;
  id: string;
  /** cardKind of a transit_card, issuer of an ecard. */
  kind: string | null;
}

export interface SimTap {
  deviceId: string;
  /** Per-device sequence number, increasing with time; (deviceId, seq) is the tap's identity. */
  seq: number;
  /** epoch milliseconds (whole seconds) */
  tappedAt: number;
  vehicleId: string;
  routeId: string;
  stopId: string;
  media: SimTapMedia;
  /** Simulator-only: who physically tapped (null: an anonymous rider or a found card). */
  riderRef: string | null;
  /** Simulator-only: the ratings the rider gives naming this tap. */
  ratings: SimRating[] | null;
}

export interface SimRating {
  /** The rated tap. */
  tap: SimTap;
  /** The rider's person (external ref) who rates. */
  personRef: string;
  score: number;
  /** When the rider rated in the app (R5 is judged on this). */
  ratedAt: number;
  /** When the app backend forwards it (more than a day after ratedAt: flagged late). */
  forwardedAt: number;
}

/** One day of traffic, taps in time order. */
export interface DayTraffic {
  date: string;
  taps: SimTap[];
  ratings: SimRating[];
}

/** One POST /v1/taps as a validator makes it. */
export interface TapBatch {
  deviceId: string;
  /** When the validator uploads (simulated time). */
  uploadAt: number;
  taps: SimTap[];
  /** A retry of a batch already sent (same taps, same seqs). */
  resend: boolean;
}
