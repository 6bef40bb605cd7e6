/**
 * Generates the synthetic city from a seed: routes, vehicles and validators, employers, the roster
 * of public-sector employees, residents and their fare media. Pure and deterministic: the same
 * (seed, scale, start, days) gives the same city.
 */
import {
  CARD_KINDS,
  ECARD_ISSUERS,
  EMPLOYER_TYPES,
  nationalIdCheckChar,
  type EmployerType,
} from '@ridetally/domain';
import { addDays } from './calendar';
import type {
  RidePattern,
  SimCity,
  SimEmployer,
  SimEmployment,
  SimMedium,
  SimPerson,
  SimRoute,
  SimStop,
  SimVehicle,
} from './city.model';
import { createRng, type Rng } from './prng';

/** The plan's figures (吕政办发〔2022〕9号): 45.6万 residents × 1.8 trips/day × 12 % bus share. */
export const PLAN_FIGURES = { residents: 456_000, tripsPerDay: 1.8, busShare: 0.12 } as const;
export const PLAN_BOARDINGS_PER_DAY =
  PLAN_FIGURES.residents * PLAN_FIGURES.tripsPerDay * PLAN_FIGURES.busShare;

/** Ride patterns: trips per day (Poisson means) on workdays and on weekends/holidays. */
export const PATTERNS: Record<
  Exclude<RidePattern, 'none'>,
  { share: number; workday: number; offDay: number }
> = {
  commuter: { share: 0.45, workday: 2, offDay: 0.6 },
  heavy: { share: 0.05, workday: 5.5, offDay: 3 },
  occasional: { share: 0.5, workday: 0.35, offDay: 0.35 },
};
/** Share of trips with a transfer to a second bus (a second boarding). */
export const TRANSFER_RATE = 0.15;
/** Of the riders: roster employees, registered residents, the rest anonymous (unregistered media). */
export const RIDER_MIX = { employee: 0.27, registeredResident: 0.4 } as const;
/** Roster employees who never ride, relative to employee riders. */
export const NON_RIDING_EMPLOYEES = 0.3;

/** Mean boardings per rider per day over an ordinary week (5 workdays, 2 weekend days). */
export function meanBoardingsPerRider(): number {
  let mean = 0;
  for (const p of Object.values(PATTERNS))
    mean += p.share * ((5 * p.workday + 2 * p.offDay) / 7) * (1 + TRANSFER_RATE);
  return mean;
}

export interface CityOptions {
  seed: string | number;
  /** 1 = the plan's figures (~98,500 boardings a day). */
  scale: number;
  /** First simulated Shanghai date (yyyy-MM-dd). */
  start: string;
  days: number;
}

const SURNAMES =
  '王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文';
const GIVEN =
  '伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉宇浩凯健俊帆帅旭宁龙林欣雨晨阳瑞博文思佳怡悦琪';
const EMPLOYER_WORDS: Record<EmployerType, string[]> = {
  agency: [
    '人民政府办公室',
    '财政局',
    '交通运输局',
    '生态环境局',
    '公安局',
    '住房和城乡建设局',
    '民政局',
    '税务局',
  ],
  institution: [
    '第一中学',
    '人民医院',
    '疾病预防控制中心',
    '图书馆',
    '职业技术学院',
    '气象台',
    '广播电视台',
    '妇幼保健院',
  ],
  soe: ['公共交通有限公司', '城市建设投资集团', '水务集团', '热力公司', '供电公司', '文旅集团'],
  other: ['科技有限公司', '餐饮管理有限公司', '商贸有限公司', '物流有限公司'],
};
const DISTRICTS = ['离石', '吕梁', '孝义', '汾阳', '交城', '文水'];

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function quota(count: number, share: number): number {
  return count === 0 ? 0 : Math.max(1, Math.round(count * share));
}

function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function generateRoutes(
  rng: Rng,
  scale: number,
): { routes: SimRoute[]; stops: SimStop[]; vehicles: SimVehicle[] } {
  const routes: SimRoute[] = [];
  const stops: SimStop[] = [];
  const vehicles: SimVehicle[] = [];
  const cityRoutes = Math.min(24, Math.max(3, Math.round(24 * scale)));
  const specs: { id: string; short: string; long: string; kind: SimRoute['kind']; vehicles: number }[] = [];
  for (let i = 1; i <= cityRoutes; i++) {
    specs.push({
      id: `R${i}`,
      short: String(i),
      long: `${i}路 市区线`,
      kind: 'city',
      vehicles: Math.max(2, Math.round(16 * scale)),
    });
  }
  specs.push({
    id: 'K1',
    short: '机场巴士',
    long: '机场巴士 吕梁大武机场—市区',
    kind: 'airport',
    vehicles: Math.max(2, Math.round(6 * scale)),
  });
  const intercity = scale >= 0.5 ? 2 : 1;
  for (let i = 1; i <= intercity; i++) {
    specs.push({
      id: `X${i}`,
      short: `X${i}`,
      long: `X${i} 离石—${DISTRICTS[i + 1]} 城际线`,
      kind: 'intercity',
      vehicles: Math.max(2, Math.round(4 * scale)),
    });
  }
  let vehicleNo = 1;
  for (const spec of specs) {
    const stopCount = rng.between(8, 20);
    const stopIds: string[] = [];
    for (let s = 1; s <= stopCount; s++) {
      const stopId = `${spec.id}-S${pad(s, 2)}`;
      stopIds.push(stopId);
      stops.push({
        stopId,
        name: `${spec.short}站${s}`,
        lat: Math.round((37.5 + rng.next() * 0.1) * 1e6) / 1e6,
        lon: Math.round((111.1 + rng.next() * 0.1) * 1e6) / 1e6,
      });
    }
    routes.push({
      routeId: spec.id,
      shortName: spec.short,
      longName: spec.long,
      kind: spec.kind,
      networkId: spec.kind === 'intercity' ? 'intercity' : 'city',
      isCity: spec.kind !== 'intercity',
      stopIds,
    });
    for (let v = 0; v < spec.vehicles; v++) {
      const vehicleId = `V${pad(vehicleNo++, 4)}`;
      const doors = rng.chance(0.25) ? 2 : 1;
      const deviceIds = Array.from({ length: doors }, (_, d) => `D${vehicleId.slice(1)}-${d + 1}`);
      vehicles.push({
        vehicleId,
        routeId: spec.id,
        plate: `晋J·${pad(10000 + rng.int(89999), 5)}`,
        deviceIds,
      });
    }
  }
  return { routes, stops, vehicles };
}

function generateEmployers(rng: Rng, scale: number): SimEmployer[] {
  const count = Math.max(8, Math.round(300 * scale));
  const employers: SimEmployer[] = [];
  const weights: [EmployerType, number][] = [
    ['agency', 0.35],
    ['institution', 0.35],
    ['soe', 0.15],
    ['other', 0.15],
  ];
  for (let i = 0; i < count; i++) {
    // The first four cover every type; the next four every type outside the city area.
    let type: EmployerType;
    if (i < 8) type = EMPLOYER_TYPES[i % 4]!;
    else {
      let u = rng.next();
      type = 'other';
      for (const [t, w] of weights) {
        if ((u -= w) < 0) {
          type = t;
          break;
        }
      }
    }
    const cityArea = i < 4 ? true : i < 8 ? false : !rng.chance(0.1);
    const district = cityArea ? '吕梁市' : `${rng.pick(DISTRICTS.slice(2))}市`;
    employers.push({
      code: `E${pad(i + 1, 4)}`,
      name: `${district}${rng.pick(EMPLOYER_WORDS[type])}${i + 1}`,
      type,
      cityArea,
    });
  }
  return employers;
}

function makeIdNumber(rng: Rng, index: number): string {
  const birth = new Date(Date.UTC(1960 + rng.int(45), 0, 1) + rng.int(365) * 86_400_000);
  const date = birth.toISOString().slice(0, 10).replaceAll('-', '');
  // The index in the region code's last digits and the sequence keeps numbers unique.
  const region = `1411${pad(Math.floor(index / 1000) % 100, 2)}`;
  const first17 = `${region}${date}${pad(index % 1000, 3)}`;
  return first17 + nationalIdCheckChar(first17);
}

interface MediaIds {
  next(type: SimMedium['type'], kind: string | null, idNumber: string): string;
}

function createMediaIds(rng: Rng): MediaIds {
  let counter = 0;
  return {
    next(type, kind, idNumber) {
      counter++;
      switch (type) {
        case 'transit_card':
          return `3101${pad(rng.int(10000), 4)}${pad(counter, 8)}`;
        case 'ecard':
          if (kind === 'alipay') return `2088${pad(rng.int(10000), 4)}${pad(counter, 8)}`;
          if (kind === 'cmcc_sim') return `898600${pad(rng.int(100000), 5)}${pad(counter, 9)}`;
          return `LU${pad(rng.int(10000), 4)}${pad(counter, 10)}`;
        case 'qr':
          return `qr-${counter.toString(36)}${rng.int(46656).toString(36)}`;
        case 'id_card':
          return idNumber;
      }
    },
  };
}

function pickPrimaryMedium(rng: Rng): { type: SimMedium['type']; kind: string | null } {
  const u = rng.next();
  if (u < 0.4) {
    const k = rng.next();
    return {
      type: 'transit_card',
      kind: k < 0.7 ? 'normal' : (CARD_KINDS[1 + Math.floor((k - 0.7) / 0.1)] ?? 'teacher'),
    };
  }
  if (u < 0.65) return { type: 'ecard', kind: rng.pick(ECARD_ISSUERS) };
  if (u < 0.9) return { type: 'qr', kind: null };
  return { type: 'id_card', kind: null };
}

function pickPattern(rng: Rng): Exclude<RidePattern, 'none'> {
  const u = rng.next();
  if (u < PATTERNS.commuter.share) return 'commuter';
  if (u < PATTERNS.commuter.share + PATTERNS.heavy.share) return 'heavy';
  return 'occasional';
}

/** A date uniformly in [start + lo, start + days − 1 − hi], or null when the range is empty. */
function dateInside(rng: Rng, start: string, days: number, lo: number, hi: number): string | null {
  const span = days - lo - hi;
  return span <= 0 ? null : addDays(start, lo + rng.int(span));
}

export function generateCity(options: CityOptions): SimCity {
  const { scale, start, days } = options;
  if (!(scale > 0)) throw new RangeError('scale must be positive');
  if (!Number.isInteger(days) || days < 1) throw new RangeError('days must be a positive integer');
  const seed = String(options.seed);
  const rng = createRng(seed, 'city');
  const { routes, stops, vehicles } = generateRoutes(createRng(seed, 'routes'), scale);
  const employers = generateEmployers(createRng(seed, 'employers'), scale);
  const eligibleEmployers = employers.filter((e) => e.cityArea && e.type !== 'other');
  const otherEmployers = employers.filter((e) => !eligibleEmployers.includes(e));
  const cityRouteIds = routes.filter((r) => r.kind === 'city').map((r) => r.routeId);
  const intercityRouteIds = routes.filter((r) => r.kind === 'intercity').map((r) => r.routeId);

  const riders = Math.max(20, Math.round((scale * PLAN_BOARDINGS_PER_DAY) / meanBoardingsPerRider()));
  const employeeRiders = Math.round(riders * RIDER_MIX.employee);
  const employees = employeeRiders + Math.round(employeeRiders * NON_RIDING_EMPLOYEES);
  const registeredResidents = Math.round(riders * RIDER_MIX.registeredResident);
  const anonymous = riders - employeeRiders - registeredResidents;
  const total = employees + registeredResidents + anonymous;

  const mediaIds = createMediaIds(createRng(seed, 'media-ids'));
  const persons: SimPerson[] = [];
  for (let i = 0; i < total; i++) {
    const prng = createRng(seed, 'person', i);
    const isEmployee = i < employees;
    const rides = !isEmployee || i < employeeRiders;
    const registered = i < employees + registeredResidents;
    const idNumber = makeIdNumber(prng, i);
    const givenLength = prng.chance(0.3) ? 1 : 2;
    let name = prng.pick([...SURNAMES]);
    for (let g = 0; g < givenLength; g++) name += prng.pick([...GIVEN]);
    const homeIsIntercity = intercityRouteIds.length > 0 && prng.chance(0.04);
    const homeRouteId = homeIsIntercity ? prng.pick(intercityRouteIds) : prng.pick(cityRouteIds);
    let workRouteId = prng.pick(cityRouteIds);
    if (workRouteId === homeRouteId && cityRouteIds.length > 1)
      workRouteId = cityRouteIds[(cityRouteIds.indexOf(workRouteId) + 1) % cityRouteIds.length]!;
    persons.push({
      index: i,
      ref: `P${pad(i + 1, 7)}`,
      registered,
      idNumber,
      name,
      phone: `1${prng.pick(['3', '5', '8'])}${pad(prng.int(1_000_000_000), 9)}`,
      employments: [],
      media: [],
      pattern: rides ? pickPattern(prng) : 'none',
      homeRouteId,
      workRouteId,
      twoCards: false,
      lostCard: null,
      ratingPropensity: isEmployee ? 0.95 : 0.5,
    });
  }

  // Roster: most employees serve the whole time; quotas of the others so every case occurs.
  const roster = shuffled(rng, persons.slice(0, employees));
  const joiners = quota(employees, 0.06);
  const leavers = quota(employees, 0.06);
  const changers = quota(employees, 0.06);
  const formerOnes = quota(employees, 0.03);
  const longAgo = (): string => addDays(start, -(30 + rng.int(7000)));
  const pickEmployer = (): SimEmployer =>
    rng.chance(0.85) || otherEmployers.length === 0 ? rng.pick(eligibleEmployers) : rng.pick(otherEmployers);
  roster.forEach((person, k) => {
    const employer = pickEmployer();
    const employments: SimEmployment[] = [];
    let cursor = k;
    const joinDate = cursor < joiners ? dateInside(rng, start, days, 1, 0) : null;
    if ((cursor -= joiners) < 0 && joinDate)
      employments.push({ employerCode: employer.code, from: joinDate, to: null });
    else if (cursor >= 0 && (cursor -= leavers) < 0 && days >= 2) {
      const last = dateInside(rng, start, days, 0, 1) ?? start;
      employments.push({ employerCode: employer.code, from: longAgo(), to: last });
    } else if (cursor >= 0 && (cursor -= changers) < 0 && days >= 2) {
      const switchDate = dateInside(rng, start, days, 1, 0) ?? addDays(start, 1);
      let next = pickEmployer();
      if (next.code === employer.code)
        next = employers[(employers.indexOf(employer) + 1) % employers.length]!;
      employments.push({ employerCode: employer.code, from: longAgo(), to: addDays(switchDate, -1) });
      employments.push({ employerCode: next.code, from: switchDate, to: null });
    } else if (cursor >= 0 && (cursor -= formerOnes) < 0) {
      employments.push({
        employerCode: employer.code,
        from: addDays(start, -3000),
        to: addDays(start, -(1 + rng.int(300))),
      });
    } else {
      employments.push({ employerCode: employer.code, from: longAgo(), to: null });
    }
    person.employments = employments;
  });

  // Media: registered riders bind theirs (some only part-way through); anonymous riders never do.
  const riderIndexes = persons.filter((p) => p.pattern !== 'none').map((p) => p.index);
  const registeredRiders = shuffled(
    rng,
    riderIndexes.filter((i) => persons[i]!.registered),
  );
  const lateRegistrations = new Set(
    registeredRiders.slice(0, days >= 2 ? quota(registeredRiders.length, 0.08) : 0),
  );
  const twoCardHolders = new Set(registeredRiders.slice(-quota(registeredRiders.length, 0.005)));
  for (const person of persons) {
    if (person.pattern === 'none') continue;
    const mrng = createRng(seed, 'person-media', person.index);
    const primary = pickPrimaryMedium(mrng);
    if (!person.registered) {
      person.media.push({
        ...primary,
        id: mediaIds.next(primary.type, primary.kind, person.idNumber),
        validFrom: null,
        validTo: null,
      });
      continue;
    }
    const validFrom = lateRegistrations.has(person.index)
      ? (dateInside(mrng, start, days, 1, 0) ?? start)
      : addDays(start, -(1 + mrng.int(300)));
    person.media.push({
      ...primary,
      id: mediaIds.next(primary.type, primary.kind, person.idNumber),
      validFrom,
      validTo: null,
    });
    if (primary.type !== 'qr' && mrng.chance(0.2)) {
      person.media.push({
        type: 'qr',
        kind: null,
        id: mediaIds.next('qr', null, person.idNumber),
        validFrom,
        validTo: null,
      });
    }
    if (twoCardHolders.has(person.index)) {
      person.twoCards = true;
      person.media.push({
        type: 'transit_card',
        kind: 'normal',
        id: mediaIds.next('transit_card', 'normal', person.idNumber),
        validFrom,
        validTo: null,
      });
    }
  }
  // Lost transit cards, replaced by a new card from a date inside the simulation.
  const cardHolders = shuffled(
    rng,
    persons.filter(
      (p) =>
        p.registered && p.media[0]?.type === 'transit_card' && !p.twoCards && !lateRegistrations.has(p.index),
    ),
  );
  if (days >= 3) {
    for (const person of cardHolders.slice(0, quota(cardHolders.length, 0.03))) {
      const old = person.media[0]!;
      const date = dateInside(rng, start, days, 1, 1) ?? addDays(start, 1);
      old.validTo = addDays(date, -1);
      person.media.splice(1, 0, {
        type: 'transit_card',
        kind: old.kind,
        id: mediaIds.next('transit_card', old.kind, person.idNumber),
        validFrom: date,
        validTo: null,
      });
      person.lostCard = { mediumId: old.id, date, found: rng.chance(0.4) };
    }
  }

  const devices = vehicles.flatMap((v) => v.deviceIds);
  const offlineDevices = shuffled(rng, devices)
    .slice(0, quota(devices.length, 0.02))
    .map((deviceId) => ({ deviceId, from: addDays(start, rng.int(days)), days: 2 + rng.int(4) }));

  return {
    seed,
    scale,
    start,
    days,
    routes,
    stops,
    vehicles,
    employers,
    persons,
    offlineDevices,
    cityNetworkId: 'city',
  };
}
