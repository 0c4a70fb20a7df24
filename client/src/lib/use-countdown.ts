import { useEffect, useState } from 'react';

function secondsUntil(deadline: number | undefined): number | undefined {
  return deadline === undefined ? undefined : Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
}

/** Seconds left until `deadline` (ms since epoch), ticking once a second; undefined without one. */
export function useCountdown(deadline: number | undefined): number | undefined {
  const [seconds, setSeconds] = useState(() => secondsUntil(deadline));
  useEffect(() => {
    setSeconds(secondsUntil(deadline));
    if (deadline === undefined) return;
    const timer = window.setInterval(() => {
      const left = secondsUntil(deadline);
      setSeconds(left);
      if (!left) window.clearInterval(timer);
    }, 1000);
    return () => window.clearInterval(timer);
  }, [deadline]);
  return seconds;
}
