package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.nemo.NemoException;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.worker.FailurePolicy.Remedy;
import java.io.IOException;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class FailurePolicyTest {

  @Test
  void eachCodeHasItsRemedy() {
    assertThat(FailurePolicy.remedy(new NemoException.Backend(1001, 200, "token expired"))).isEqualTo(Remedy.RENEW_TOKEN);
    assertThat(FailurePolicy.remedy(new NemoException.Http(401, "x", null))).isEqualTo(Remedy.RENEW_TOKEN);
    assertThat(FailurePolicy.remedy(new NemoException.Backend(1002, 200, "gone"))).isEqualTo(Remedy.NEW_SESSION);
    assertThat(FailurePolicy.remedy(new NemoException.Http(429, "slow down", "30"))).isEqualTo(Remedy.WAIT_AND_RETRY_ONCE);
    assertThat(FailurePolicy.remedy(new NemoException.Http(503, "x", null))).isEqualTo(Remedy.BACKOFF);
    assertThat(FailurePolicy.remedy(new CompletionException(new NemoException.Transport("poll", new IOException("reset")))))
        .isEqualTo(Remedy.BACKOFF);
    for (int code : new int[] {2001, 4001, 4002}) {
      assertThat(FailurePolicy.remedy(new NemoException.Backend(code, 200, "x"))).isEqualTo(Remedy.GIVE_UP);
    }
    assertThat(FailurePolicy.remedy(new NemoException.Http(402, "x", null))).isEqualTo(Remedy.GIVE_UP);
    assertThat(FailurePolicy.remedy(new NemoException.Http(400, "x", null))).isEqualTo(Remedy.GIVE_UP);
    assertThat(FailurePolicy.remedy(new NemoException.Stream("SSE_STALLED", "x"))).isEqualTo(Remedy.GIVE_UP);
  }

  @Test
  void hintsArePhrasedForAPerson() {
    ErrorInfo credits = FailurePolicy.describe(new NemoException.Backend(2001, 200, "no credits"), "anon_42");
    assertThat(credits.hint()).isEqualTo("Register to get more credits: https://nemovideo.com/register?bind=anon_42");
    assertThat(credits.retryable()).isFalse();
    assertThat(FailurePolicy.describe(new NemoException.Backend(2001, 200, "x"), "user_1").hint()).contains("Top up");
    assertThat(FailurePolicy.describe(new NemoException.Http(402, "x", null), null).reason()).contains("not about credits");
    assertThat(FailurePolicy.describe(new NemoException.Backend(4001, 200, "x"), null).hint()).contains("mp4 mov avi webm mkv");
    assertThat(FailurePolicy.describe(new NemoException.Backend(4002, 200, "x"), null).hint()).contains("Compress or trim");
  }
}
