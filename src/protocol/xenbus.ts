// XenbusState (xen/include/public/io/xenbus.h): written to `state` nodes as decimal ASCII.

export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;

export type XenbusStateValue = (typeof XenbusState)[keyof typeof XenbusState];

const NAMES = ['Unknown', 'Initialising', 'InitWait', 'Initialised', 'Connected', 'Closing', 'Closed',
  'Reconfiguring', 'Reconfigured'] as const;

export function xenbusStateName(state: number): string {
  return NAMES[state] ?? `Invalid(${state})`;
}

/** Parses a `state` node's value; anything that is not a known state reads as Unknown, as xen-bus does. */
export function parseXenbusState(text: string | undefined): XenbusStateValue {
  if (text === undefined || !/^\d+$/.test(text)) return XenbusState.Unknown;
  const n = Number(text);
  return (n >= 0 && n <= 8 ? n : 0) as XenbusStateValue;
}
