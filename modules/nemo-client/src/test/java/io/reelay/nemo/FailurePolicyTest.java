package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.nemo.FailurePolicy.Remedy;
import io.reelay.nemo.FailurePolicy.RetryPolicy;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** The table of {@link FailurePolicy}, row by row, as pure decisions (the simulator tests run them). */
class FailurePolicyTest {

  private final RetryPolicy policy = new RetryPolicy(Duration.ofSeconds(1), Duration.ofSeconds(30), 4, Duration.ofSeconds(30));

  @Test
  void tokenRowsRenewTheToken() {
    for (int code : new int[] {1001, 1010, 1011}) {
      assertThat(FailurePolicy.remedy(new NemoException.Backend(code, 200, "token expired"))).isEqualTo(Remedy.RENEW_TOKEN);
    }
    assertThat(FailurePolicy.remedy(new NemoException.Http(401, "x", null))).isEqualTo(Remedy.RENEW_TOKEN);
    assertThat(policy.delay(new NemoException.Backend(1001, 200, "x"), 1, 0.5)).isNull();
  }

  @Test
  void sessionLostStartsANewSession() {
    assertThat(FailurePolicy.remedy(new NemoException.Backend(1002, 200, "gone"))).isEqualTo(Remedy.NEW_SESSION);
    assertThat(FailurePolicy.remedy(new NemoException.Backend(1002, 404, "gone"))).isEqualTo(Remedy.NEW_SESSION);
  }

  @Test
  void refusalsWaitTheStatedTimeOrBackOffWithJitterForAsLongAsTheBudgetAllows() {
    NemoException.Http stated = new NemoException.Http(429, "slow down", "7");
    NemoException.Http silent = new NemoException.Http(429, "slow down", null);
    NemoException.Http overloaded = new NemoException.Http(503, "busy", null);
    assertThat(FailurePolicy.remedy(stated)).isEqualTo(Remedy.WAIT);
    assertThat(FailurePolicy.remedy(overloaded)).isEqualTo(Remedy.WAIT);
    assertThat(FailurePolicy.remedy(new NemoException.Backend(0, 503, "busy"))).isEqualTo(Remedy.WAIT);
    assertThat(FailurePolicy.refusalReason(silent)).isEqualTo("rate limited");
    assertThat(FailurePolicy.refusalReason(overloaded)).isEqualTo("overloaded");
    // the server's word, every time, but never beyond rate-limit-wait
    assertThat(policy.delay(stated, 1, 0.9)).isEqualTo(Duration.ofSeconds(7));
    assertThat(policy.delay(stated, 5, 0.9)).isEqualTo(Duration.ofSeconds(7));
    assertThat(policy.delay(new NemoException.Http(429, "x", "3600"), 1, 0.9)).isEqualTo(Duration.ofSeconds(30));
    // no word: exponential backoff with equal jitter (never zero), capped at rate-limit-wait
    assertThat(policy.delay(silent, 1, 0.0)).isEqualTo(Duration.ofMillis(500));
    assertThat(policy.delay(silent, 1, 0.9)).isEqualTo(Duration.ofMillis(950));
    assertThat(policy.delay(overloaded, 3, 0.9)).isEqualTo(Duration.ofMillis(3800));
    assertThat(policy.delay(silent, 20, 0.9)).isEqualTo(Duration.ofMillis(28_500));
    // as long as the refusal budget (the request deadline, 30 min here) allows, then no more
    assertThat(policy.delay(silent, 100, Duration.ofMinutes(29), 0.0)).isEqualTo(Duration.ofSeconds(15));
    assertThat(policy.delay(silent, 100, Duration.ofMinutes(29).plusSeconds(50), 0.0)).isNull();
    assertThat(policy.delay(stated, 2, Duration.ofMinutes(30), 0.9)).isNull();
  }

  @Test
  void aRepeatedIdentityRepairWaitsTheFirstGoesAtOnce() {
    assertThat(policy.repairWait(1, 0.9)).isEqualTo(Duration.ZERO);
    assertThat(policy.repairWait(2, 0.0)).isEqualTo(Duration.ofMillis(500));
    assertThat(policy.repairWait(4, 0.9)).isEqualTo(Duration.ofMillis(3800));
    assertThat(policy.repairWait(30, 0.9)).isEqualTo(Duration.ofMillis(28_500));
  }

  @Test
  void serverErrorsAndResetsBackOffWithFullJitterAndStop() {
    NemoException.Http e502 = new NemoException.Http(502, "x", null);
    Throwable reset = new CompletionException(new NemoException.Transport("poll", new IOException("Connection reset")));
    assertThat(FailurePolicy.remedy(e502)).isEqualTo(Remedy.BACKOFF);
    assertThat(FailurePolicy.remedy(new NemoException.Backend(500, 500, "x"))).isEqualTo(Remedy.BACKOFF);
    assertThat(FailurePolicy.remedy(reset)).isEqualTo(Remedy.BACKOFF);
    assertThat(policy.delay(e502, 1, 0.999)).isLessThanOrEqualTo(Duration.ofSeconds(1));
    assertThat(policy.delay(e502, 3, 0.999)).isBetween(Duration.ofMillis(3900), Duration.ofSeconds(4));
    assertThat(policy.delay(e502, 3, 0.0)).isEqualTo(Duration.ZERO);
    assertThat(policy.delay(e502, 10, 0.999)).isNull();
    assertThat(policy.backoff(30, 0.999)).isLessThanOrEqualTo(Duration.ofSeconds(30));
  }

  @Test
  void businessAndClientErrorsAreNeverRetried() {
    for (int code : new int[] {2001, 4001, 4002}) {
      NemoException.Backend b = new NemoException.Backend(code, 200, "x");
      assertThat(FailurePolicy.remedy(b)).isEqualTo(Remedy.GIVE_UP);
      assertThat(policy.delay(b, 1, 0.5)).isNull();
    }
    for (int status : new int[] {400, 402, 403, 404, 422}) {
      assertThat(FailurePolicy.remedy(new NemoException.Http(status, "x", null))).isEqualTo(Remedy.GIVE_UP);
    }
    assertThat(FailurePolicy.remedy(new NemoException.Stream("SSE_STALLED", "x"))).isEqualTo(Remedy.GIVE_UP);
    assertThat(FailurePolicy.remedy(new IllegalStateException("bug"))).isEqualTo(Remedy.GIVE_UP);
  }

  @Test
  void aRetryAfterIsReadInSecondsOrAsAnHttpDate() {
    Instant now = Instant.parse("2026-12-01T20:40:00.250Z");
    assertThat(RetryPolicy.retryAfter("12", now)).isEqualTo(Duration.ofSeconds(12));
    assertThat(RetryPolicy.retryAfter(" 0 ", now)).isZero();
    assertThat(RetryPolicy.retryAfter("Tue, 01 Dec 2026 20:40:05 GMT", now)).isEqualTo(Duration.ofMillis(4750));
    assertThat(RetryPolicy.retryAfter("Tue, 01 Dec 2026 20:39:00 GMT", now)).as("a date already past").isZero();
    assertThat(RetryPolicy.retryAfter("soon", now)).isNull();
    assertThat(RetryPolicy.retryAfter(null, now)).isNull();

    NemoException.Http dated = new NemoException.Http(429, "slow down", "Tue, 01 Dec 2026 20:40:10 GMT");
    assertThat(policy.delay(dated, 1, Duration.ZERO, 0.5, now)).as("the stated wait").isEqualTo(Duration.ofMillis(9750));
    assertThat(policy.delay(new NemoException.Http(429, "slow down", "Tue, 01 Dec 2026 20:45:00 GMT"), 1, Duration.ZERO, 0.5, now))
        .as("cut to rate-limit-wait").isEqualTo(Duration.ofSeconds(30));
    assertThat(policy.delay(new NemoException.Http(429, "slow down", "whenever"), 1, Duration.ZERO, 0.5, now))
        .as("unreadable: our own schedule (equal jitter of 1 s)").isEqualTo(Duration.ofMillis(750));
  }

  @Test
  void envelopesBecomeTheRightExceptions() {
    assertThat(catchThrowable(() -> Envelope.unwrap(200, "{\"code\":2001,\"message\":\"no credits\"}".getBytes(), null)))
        .isInstanceOfSatisfying(NemoException.Backend.class, b -> assertThat(b.backendCode()).isEqualTo(2001));
    assertThat(catchThrowable(() -> Envelope.unwrap(404, "{\"code\":1002,\"message\":\"gone\",\"data\":null}".getBytes(), null)))
        .isInstanceOfSatisfying(NemoException.Backend.class, b -> assertThat(b.httpStatus()).isEqualTo(404));
    assertThat(catchThrowable(() -> Envelope.unwrap(429, "Too Many Requests".getBytes(), "12")))
        .isInstanceOfSatisfying(NemoException.Http.class, h -> assertThat(h.retryAfter()).isEqualTo("12"));
    assertThat(catchThrowable(() -> Envelope.unwrap(422, "{\"detail\":\"bad app_name\"}".getBytes(), null)))
        .isInstanceOf(NemoException.Http.class).hasMessageContaining("bad app_name");
    assertThat(Envelope.unwrap(200, "{\"success\":true,\"data\":{\"id\":\"r\"}}".getBytes(), null).path("id").asText()).isEqualTo("r");
    assertThat(Envelope.unwrap(200, "{\"taskId\":\"r\",\"status\":\"completed\"}".getBytes(), null).path("status").asText()).isEqualTo("completed");
  }

  private static Throwable catchThrowable(Runnable r) {
    try {
      r.run();
      return null;
    } catch (Throwable t) {
      return t;
    }
  }
}
