package io.reelay.sim;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Rolls the configured fault mix. One seeded generator for all faults, so a given seed and call
 * order give the same faults; replaced (and reseeded) as a whole by {@code POST /_sim/faults}.
 */
final class FaultDice {

  private record Mix(Faults faults, SplittableRandom random) {}

  private final Faults configured;
  private final AtomicReference<Mix> mix = new AtomicReference<>();

  FaultDice(Faults configured) {
    this.configured = configured;
    replace(configured);
  }

  Faults configured() {
    return configured;
  }

  Faults current() {
    return mix.get().faults();
  }

  void replace(Faults faults) {
    mix.set(new Mix(faults, new SplittableRandom(faults.seed())));
  }

  /** True with probability {@code rate}; never draws when the rate is 0, so an idle fault doesn't shift the sequence. */
  boolean roll(double rate) {
    if (rate <= 0) return false;
    if (rate >= 1) return true;
    SplittableRandom random = mix.get().random();
    synchronized (random) {
      return random.nextDouble() < rate;
    }
  }

  int pick(int bound) {
    SplittableRandom random = mix.get().random();
    synchronized (random) {
      return random.nextInt(bound);
    }
  }
}
