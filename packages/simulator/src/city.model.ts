/** The synthetic city: what the registry, the roster and the media bindings hold. */
import type { EmployerType, MediaType } from '@ridetally/domain';

export type RouteKind = 'city' | 'airport' | 'intercity';

export interface SimRoute {
  routeId: string;
  shortName: string;
  longName: string;
  kind: RouteKind;
  /** GTFS network the route belongs to; the city network holds every city-area route (R3). */
  networkId: string;
  /** Ground truth for R3: a city-area line (the airport bus included). */
  isCity: boolean;
  stopIds: string[];
}

export interface SimStop {
  stopId: string;
  name: string;
  lat: number;
  lon: number;
}

export interface SimVehicle {
  vehicleId: string;
  routeId: string;
  plate: string;
  /** One validator per door: most buses have one, some two. */
  deviceIds: string[];
}

export interface SimEmployer {
  code: string;
  name: string;
  type: EmployerType;
  cityArea: boolean;
}

/** A roster row: Shanghai calendar dates, both inclusive, `to` null when open-ended (SPEC §5). */
export interface SimEmployment {
  employerCode: string;
  from: string;
  to: string | null;
}

/** A fare medium and, when the rider registered it, its binding interval (dates inclusive). */
export interface SimMedium {
  type: MediaType;
  /** Card kind of a transit_card, issuer of an ecard, null otherwise. */
  kind: string | null;
  id: string;
  /** null: never bound (an anonymous rider's card). */
  validFrom: string | null;
  validTo: string | null;
}

export type RidePattern = 'commuter' | 'heavy' | 'occasional' | 'none';

export interface SimPerson {
  index: number;
  /**
   * The simulator's stable name for a person (`P000042`). Ground truth is keyed by it; the platform's
   * person id (a UUID it assigns) is mapped to it through the registration (see README, "Person
   * identity").
   */
  ref: string;
  /** Registered in the rider app (real name): registered persons appear in persons/media files. */
  registered: boolean;
  idNumber: string;
  name: string;
  phone: string;
  employments: SimEmployment[];
  /** Bound media first; the primary medium is media[0]. */
  media: SimMedium[];
  pattern: RidePattern;
  homeRouteId: string;
  workRouteId: string;
  /** Taps a second card of their own on the same bus on some rides (R4: still one ride). */
  twoCards: boolean;
  /** A lost transit card, replaced from `date`; when `found`, someone else keeps tapping it. */
  lostCard: { mediumId: string; date: string; found: boolean } | null;
  /** Share of this person's rides they rate in the app. */
  ratingPropensity: number;
}

export interface SimCity {
  seed: string;
  scale: number;
  /** First simulated Shanghai date and number of days. */
  start: string;
  days: number;
  routes: SimRoute[];
  stops: SimStop[];
  vehicles: SimVehicle[];
  employers: SimEmployer[];
  persons: SimPerson[];
  /** Validators that go offline for some days and upload their stored taps afterwards. */
  offlineDevices: { deviceId: string; from: string; days: number }[];
  cityNetworkId: string;
}
