package io.reelay.nemo;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.nemo.FailurePolicy.Remedy;
import io.reelay.nemo.FailurePolicy.RetryPolicy;
import java.io.IOException;
import java.time.Duration;
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
  void rateLimitWaitsTheStatedTimeOrThirtySecondsOnce() {
    NemoException.Http stated = new NemoException.Http(429, "slow down", "7");
    NemoException.Http silent = new NemoException.Http(429, "slow down", null);
    assertThat(FailurePolicy.remedy(stated)).isEqualTo(Remedy.WAIT_AND_RETRY_ONCE);
    assertThat(policy.delay(stated, 1, 0.9)).isEqualTo(Duration.ofSeconds(7));
    assertThat(policy.delay(silent, 1, 0.9)).isEqualTo(Duration.ofSeconds(30));
    assertThat(policy.delay(stated, 2, 0.9)).isNull();
    assertThat(policy.delay(new NemoException.Http(429, "x", "3600"), 1, 0.9)).isEqualTo(Duration.ofSeconds(30));
  }

  @Test
  void serverErrorsAndResetsBackOffWithFullJitterAndStop() {
    NemoException.Http e503 = new NemoException.Http(503, "x", null);
    Throwable reset = new CompletionException(new NemoException.Transport("poll", new IOException("Connection reset")));
    assertThat(FailurePolicy.remedy(e503)).isEqualTo(Remedy.BACKOFF);
    assertThat(FailurePolicy.remedy(new NemoException.Backend(500, 500, "x"))).isEqualTo(Remedy.BACKOFF);
    assertThat(FailurePolicy.remedy(reset)).isEqualTo(Remedy.BACKOFF);
    assertThat(policy.delay(e503, 1, 0.999)).isLessThanOrEqualTo(Duration.ofSeconds(1));
    assertThat(policy.delay(e503, 3, 0.999)).isBetween(Duration.ofMillis(3900), Duration.ofSeconds(4));
    assertThat(policy.delay(e503, 3, 0.0)).isEqualTo(Duration.ZERO);
    assertThat(policy.delay(e503, 10, 0.999)).isNull();
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
