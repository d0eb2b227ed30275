package io.reelay.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import org.junit.jupiter.api.Test;

/** What a sender reads when a request cannot be read: the field and the problem, one line, no class names. */
class JsonProblemsTest {

  @Test
  void aWrongTypeNamesTheFieldAndWhatItMustBe() {
    assertThat(describe("{\"v\":\"one\"}")).isEqualTo("field 'v': must be a whole number");
    assertThat(describe("{\"v\":1,\"upload\":\"x\"}")).isEqualTo("field 'upload': must be a JSON object");
    assertThat(describe("{\"v\":1,\"upload\":{\"url\":{}}}")).isEqualTo("field 'upload.url': must be a string");
    assertThat(describe("{\"v\":1,\"submittedAt\":\"yesterday\"}"))
        .isEqualTo("field 'submittedAt': must be an ISO-8601 time such as 2026-01-31T12:00:00Z");
    assertThat(describe("{\"v\":null}")).isEqualTo("field 'v': required, a whole number");
  }

  @Test
  void anUnknownEnumValueNamesTheFieldAndTheChoices() {
    assertThat(describe("{\"v\":1,\"action\":\"dance\"}"))
        .isEqualTo("field 'action': unknown action 'dance'; expected one of generate, edit, upload, export, credits, state, cancel");
  }

  @Test
  void brokenJsonIsNotJson() {
    assertThat(describe("hello"))
        .isEqualTo("not JSON (Unrecognized token 'hello': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false'))");
  }

  @Test
  void cutOffJsonEndsEarly() {
    assertThat(describe("{\"v\":1,")).isEqualTo("not JSON (it ends early: cut off?)");
  }

  @Test
  void aNonObjectSaysWhatARequestIs() {
    assertThat(describe("[1,2]")).isEqualTo("a request is a JSON object {\"v\":1,\"requestId\":…}, not an array");
    assertThat(describe("\"s\"")).isEqualTo("a request is a JSON object {\"v\":1,\"requestId\":…}, not a string");
    assertThat(describe("42")).isEqualTo("a request is a JSON object {\"v\":1,\"requestId\":…}, not a number");
    assertThat(describe("true")).isEqualTo("a request is a JSON object {\"v\":1,\"requestId\":…}, not true/false");
    assertThat(describe("")).isEqualTo("a request is a JSON object {\"v\":1,\"requestId\":…}, not empty");
  }

  @Test
  void nestingTooDeepSaysHowDeepIsAllowed() {
    String deep = "[".repeat(1200) + "]".repeat(1200);
    assertThat(describe("{\"v\":1,\"x\":" + deep + "}")).isEqualTo("nested deeper than 1000 levels");
    String deepObject = "{\"a\":".repeat(1200) + "1" + "}".repeat(1200);
    assertThat(describe("{\"v\":1,\"upload\":" + deepObject + "}")).isEqualTo("nested deeper than 1000 levels");
  }

  @Test
  void anyOtherFailureIsItsFirstLine() {
    assertThat(JsonProblems.describe(new IllegalStateException("line one\nline two"))).isEqualTo("line one");
    assertThat(JsonProblems.describe(new IllegalStateException("x".repeat(400)))).isEqualTo("x".repeat(300) + "…");
  }

  private static String describe(String json) {
    return JsonProblems.describe(catchThrowable(() -> Json.read(json, Request.class)));
  }
}
