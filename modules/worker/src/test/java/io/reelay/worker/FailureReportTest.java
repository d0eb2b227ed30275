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
}
