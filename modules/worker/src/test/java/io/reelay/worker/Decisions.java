package io.reelay.worker;

/** Reading decisions in tests. */
final class Decisions {

  private Decisions() {}

  /** What {@code n} does once everything it says is said. */
  static Next after(Next n) {
    while (n instanceof Next.Say s) {
      n = s.then();
    }
    return n;
  }
}
