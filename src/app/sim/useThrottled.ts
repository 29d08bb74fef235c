import { useEffect, useRef, useState } from 'react';
import { useSim } from '../store';

/**
 * The value, updated at most every `ms` milliseconds while the simulation runs (the last update always
 * lands), and at once when it is stopped. Heavy panels (the Lanes, the decoder, the state chart) cannot
 * be read at sixty frames a second anyway; drawing them less often keeps the page answering clicks.
 */
export function useThrottledWhileRunning<T>(value: T, ms: number): T {
  const running = useSim((s) => !!s.view?.running);
  const [shown, setShown] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    if (!running) {
      last.current = 0;
      setShown(value);
      return;
    }
    const wait = last.current + ms - performance.now();
    if (wait <= 0) {
      last.current = performance.now();
      setShown(value);
      return;
    }
    const timer = setTimeout(() => {
      last.current = performance.now();
      setShown(value);
    }, wait);
    return () => clearTimeout(timer);
  }, [value, running, ms]);
  // ms 0: no throttle, the value as it comes (the state above only keeps up, for when one starts).
  return running && ms > 0 ? shown : value;
}

/** How often the register-level panels (TIS registers, FIFO) redraw during a full-speed run: each view
 * then covers thousands of accesses, too fast to read, and redrawing hundreds of bit cells every frame
 * costs the page frames. At a set speed they follow every view. */
export const FULL_SPEED_REDRAW_MS = 100;

/** useThrottledWhileRunning, only while the run goes at full speed. */
export function useThrottledAtFullSpeed<T>(value: T): T {
  const fullSpeed = useSim((s) => (s.view?.settings.speed ?? 0) === 0);
  return useThrottledWhileRunning(value, fullSpeed ? FULL_SPEED_REDRAW_MS : 0);
}
