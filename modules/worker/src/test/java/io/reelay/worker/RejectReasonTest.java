package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.reelay.protocol.Json;
import io.reelay.protocol.JsonProblems;
import io.reelay.protocol.Request;
import org.junit.jupiter.api.Test;

/** What a sender reads when a record cannot be parsed: the field and the problem, no class names. */
class RejectReasonTest {

  private static String reason(String json) {
    return JsonProblems.describe(catchThrowable(() -> Json.read(json, Request.class)));
  }

  @Test
  void unknownActionNamesTheFieldAndTheChoices() {
    assertThat(reason("{\"v\":1,\"action\":\"explode\"}"))
        .isEqualTo("field 'action': unknown action 'explode'; expected one of generate, edit, upload, export, credits, state, cancel");
  }

  @Test
  void wrongTypesAndBrokenJsonAreNamed() {
    assertThat(reason("{\"v\":\"one\"}")).startsWith("field 'v': ").doesNotContain("io.reelay");
    assertThat(reason("{\"v\":1,")).startsWith("not JSON");
    assertThat(reason("hello")).startsWith("not JSON");
  }
}
