package io.reelay.sim;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.UUID;

/** The simulator's own seeded choices: ids, tokens and durations. Thread-safe. */
final class Ids {

  private static final char[] ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
  private static final char[] LOWER = "abcdefghijklmnopqrstuvwxyz0123456789".toCharArray();

  private final SplittableRandom random;

  Ids(long seed) {
    this.random = new SplittableRandom(seed);
  }

  synchronized String token() {
    return "nmv_usr_" + chars(ALPHANUMERIC, 32);
  }

  synchronized String userId() {
    return "anon_" + chars(LOWER, 12);
  }

  synchronized String taskId() {
    return "task_" + chars(LOWER, 16);
  }

  /** 19 digits, like the vendor's "5529798706024415232" (always below Long.MAX_VALUE). */
  synchronized String sessionId() {
    return Long.toString(1_000_000_000_000_000_000L + random.nextLong(8_000_000_000_000_000_000L));
  }

  /** ADK event ids: 8 random alphanumerics. */
  synchronized String eventId() {
    return chars(ALPHANUMERIC, 8);
  }

  synchronized String shortId(String prefix) {
    return prefix + chars(LOWER, 10);
  }

  synchronized String uuid() {
    return new UUID(random.nextLong(), random.nextLong()).toString();
  }

  /** A duration uniformly between min and max (inclusive), in milliseconds. */
  synchronized long between(Duration min, Duration max) {
    long lo = min.toMillis();
    long hi = Math.max(lo, max.toMillis());
    return lo == hi ? lo : lo + random.nextLong(hi - lo + 1);
  }

  private String chars(char[] alphabet, int n) {
    char[] out = new char[n];
    for (int i = 0; i < n; i++) out[i] = alphabet[random.nextInt(alphabet.length)];
    return new String(out);
  }
}
