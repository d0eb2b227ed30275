package io.reelay.nemo;

import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The one table that says, for every backend code and transport fault, whether a call is retried
 * and how (nemo-api.md §6–7 and the seed's error table). The client itself carries out the
 * transport rows ({@link Remedy#WAIT}, {@link Remedy#BACKOFF}) for calls that are safe to repeat,
 * and {@link Remedy#WAIT} alone for a message to the agent (a refusal means it was not taken); the
 * identity rows ({@link Remedy#RENEW_TOKEN}, {@link Remedy#NEW_SESSION}) need the session's context
 * and are carried out by its owner; {@link Remedy#GIVE_UP} is never retried. Each remedy counts its
 * own attempts: a 5xx followed by a 429 is the first wait, not the second.
 *
 * <pre>
 * 1001, 1010, 1011, HTTP 401     RENEW_TOKEN   new token (same client id), then the call again; again
 * 1002                           NEW_SESSION   new backend session (history lost), then the call again;
 *                                              a repeat of either waits (repairWait), up to the deadline
 * HTTP 429, 503                  WAIT          not taken: Retry-After (seconds or a date), else backoff with jitter, for
 *                                              as long as refusal-budget allows (the request's deadline)
 * HTTP 5xx, 408, resets, I/O     BACKOFF       exponential backoff, full jitter, max-attempts
 * 2001, 4001, 4002, 402, 400,
 * 403, other 4xx, SSE failures   GIVE_UP       never retried (an SSE message is never re-sent)
 * </pre>
 */
public final class FailurePolicy {

  /** What to do about a failed call. */
  public enum Remedy {
    RENEW_TOKEN,
    NEW_SESSION,
    WAIT,
    BACKOFF,
    GIVE_UP;

    /** Rows the client carries out by itself for repeatable calls. */
    public boolean isTransport() {
      return this == WAIT || this == BACKOFF;
    }
  }

  private FailurePolicy() {}

  public static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  public static Remedy remedy(Throwable failure) {
    Throwable t = unwrap(failure);
    if (t instanceof NemoException.Backend b) {
      return switch (b.backendCode()) {
        case 1001, 1010, 1011 -> Remedy.RENEW_TOKEN;
        case 1002 -> Remedy.NEW_SESSION;
        default -> refused(b.httpStatus()) ? Remedy.WAIT : b.httpStatus() >= 500 ? Remedy.BACKOFF : Remedy.GIVE_UP;
      };
    }
    if (t instanceof NemoException.Http h) {
      int s = h.status();
      if (s == 401) {
        return Remedy.RENEW_TOKEN;
      }
      if (refused(s)) {
        return Remedy.WAIT;
      }
      return s >= 500 || s == 408 ? Remedy.BACKOFF : Remedy.GIVE_UP;
    }
    if (t instanceof NemoException.Transport) {
      return Remedy.BACKOFF;
    }
    return Remedy.GIVE_UP;
  }

  /** Rate limited or overloaded: the backend says it did not take the call. */
  private static boolean refused(int status) {
    return status == 429 || status == 503;
  }

  /** Why a {@link Remedy#WAIT} row waits, as a person reads it ("rate limited", "overloaded"). */
  public static String refusalReason(Throwable failure) {
    Throwable t = unwrap(failure);
    int status = t instanceof NemoException.Http h ? h.status() : t instanceof NemoException.Backend b ? b.httpStatus() : 0;
    return status == 503 ? "overloaded" : "rate limited";
  }

  /**
   * How often and how long to retry the transport rows. Finite by construction: BACKOFF stops after
   * {@code maxAttempts}; WAIT stops once the waits would pass {@code refusalBudget}.
   *
   * @param rateLimitWait the longest wait between two tries of a refused call (a longer Retry-After is cut to it)
   * @param refusalBudget the longest a call waits out refusals in all (the request deadline by default)
   */
  public record RetryPolicy(Duration initial, Duration max, int maxAttempts, Duration rateLimitWait, Duration refusalBudget) {

    public RetryPolicy {
      if (maxAttempts < 0) {
        throw new IllegalArgumentException("max-attempts must be >= 0");
      }
    }

    /** With the default refusal budget (30 minutes, the default request deadline). */
    public RetryPolicy(Duration initial, Duration max, int maxAttempts, Duration rateLimitWait) {
      this(initial, max, maxAttempts, rateLimitWait, Duration.ofMinutes(30));
    }

    /** Exponential backoff with full jitter: uniform in [0, min(max, initial * 2^(attempt-1))]. */
    public Duration backoff(int attempt, double random) {
      return Duration.ofMillis((long) (cap(attempt, max) * random));
    }

    private double cap(int attempt, Duration ceiling) {
      return Math.min(ceiling.toMillis(), initial.toMillis() * Math.pow(2, Math.max(0, attempt - 1)));
    }

    /**
     * The wait before retry number {@code attempt} (1-based, counted per remedy) of a failure, or
     * null for no retry. {@code waited}: what this call has waited out in refusals so far.
     *
     * @param random uniform in [0,1), for the jitter
     */
    public Duration delay(Throwable failure, int attempt, Duration waited, double random) {
      return delay(failure, attempt, waited, random, Instant.now());
    }

    /** The same, at {@code now} (what a Retry-After date is counted from). */
    Duration delay(Throwable failure, int attempt, Duration waited, double random, Instant now) {
      Remedy r = remedy(failure);
      if (r == Remedy.WAIT) {
        Duration wait = refusalWait(unwrap(failure), attempt, random, now);
        return waited.plus(wait).compareTo(refusalBudget) > 0 ? null : wait;
      }
      if (r == Remedy.BACKOFF) {
        return attempt <= maxAttempts ? backoff(attempt, random) : null;
      }
      return null;
    }

    /**
     * The wait before repair number {@code attempt} of a session's identity (a new token after
     * 1001, a new backend session after 1002): none the first time, then backoff with jitter as for
     * a refusal, so a backend that keeps refusing is not asked again at once, and the request's
     * deadline decides when to stop.
     */
    public Duration repairWait(int attempt, double random) {
      if (attempt <= 1) {
        return Duration.ZERO;
      }
      return equalJitter(attempt - 1, random);
    }

    /** The same, for a call that has waited out no refusal yet. */
    public Duration delay(Throwable failure, int attempt, double random) {
      return delay(failure, attempt, Duration.ZERO, random);
    }

    /**
     * The server's Retry-After, in seconds or as an HTTP date (RFC 9110 §10.2.3; a date already past
     * is no wait), never beyond {@code rateLimitWait}; without one, or with one that is neither,
     * exponential backoff with equal jitter up to {@code rateLimitWait}: never a hammering zero,
     * never all callers at once.
     */
    private Duration refusalWait(Throwable t, int attempt, double random, Instant now) {
      Duration stated = t instanceof NemoException.Http h ? retryAfter(h.retryAfter(), now) : null;
      if (stated != null) {
        return stated.compareTo(rateLimitWait) > 0 ? rateLimitWait : stated;
      }
      return equalJitter(attempt, random);
    }

    /** A Retry-After value as a wait from {@code now}; null when absent or unreadable. */
    static Duration retryAfter(String value, Instant now) {
      if (value == null || value.isBlank()) {
        return null;
      }
      String v = value.trim();
      try {
        return Duration.ofSeconds(Math.max(0, Long.parseLong(v)));
      } catch (NumberFormatException notSeconds) {
        try {
          Duration until = Duration.between(now, ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
          return until.isNegative() ? Duration.ZERO : until;
        } catch (DateTimeParseException neither) {
          return null;
        }
      }
    }

    private Duration equalJitter(int attempt, double random) {
      double cap = cap(attempt, rateLimitWait);
      return Duration.ofMillis((long) (cap / 2 + cap / 2 * random));
    }
  }
}
