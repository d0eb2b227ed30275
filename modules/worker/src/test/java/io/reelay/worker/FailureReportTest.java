package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.nemo.NemoException;
import io.reelay.protocol.Event.ErrorInfo;
import org.junit.jupiter.api.Test;

class FailureReportTest {

  @Test
  void hintsArePhrasedForAPerson() {
    ErrorInfo credits = FailureReport.describe(new NemoException.Backend(2001, 200, "no credits"), "anon_42");
    assertThat(credits.hint()).isEqualTo("Register to get more credits: https://nemovideo.com/register?bind=anon_42");
    assertThat(credits.retryable()).isFalse();
    assertThat(FailureReport.describe(new NemoException.Backend(2001, 200, "x"), "user_1").hint()).contains("Top up");
    assertThat(FailureReport.describe(new NemoException.Http(402, "x", null), null).reason()).contains("not about credits");
    assertThat(FailureReport.describe(new NemoException.Backend(4001, 200, "x"), null).hint()).contains("mp4 mov avi webm mkv");
    assertThat(FailureReport.describe(new NemoException.Backend(4002, 200, "x"), null).hint()).contains("Compress or trim");
  }

  /** The rows the session repairs itself first (1001, 1002, 429): when that was not enough. */
  @Test
  void rowsThatWereRepairedOnceSayWhatToDoNext() {
    ErrorInfo token = FailureReport.describe(new NemoException.Backend(1001, 200, "x"), null);
    assertThat(token.retryable()).isTrue();
    assertThat(token.hint()).contains("NEMO_TOKEN");
    ErrorInfo session = FailureReport.describe(new NemoException.Backend(1002, 200, "x"), null);
    assertThat(session.retryable()).isTrue();
    assertThat(session.hint()).contains("a new session will be created");
    ErrorInfo limited = FailureReport.describe(new NemoException.Http(429, "x", null), null);
    assertThat(limited.retryable()).isTrue();
    assertThat(limited.hint()).startsWith("Wait");
    ErrorInfo plan = FailureReport.describe(new NemoException.Http(402, "x", null), null);
    assertThat(plan.retryable()).isFalse();
    assertThat(plan.hint()).contains("Upgrade").contains("attribution").doesNotContain("credits");
  }
}
