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
  return running ? shown : value;
}
