package io.reelay.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What the sender of a parsed but unusable request reads: the field and what to change. */
class RequestValidationTest {

  private static Request req(String json) {
    return Json.read(json, Request.class);
  }

  @Test
  void aCompleteRequestHasNoProblems() {
    assertThat(RequestValidation.problems(req("{\"v\":1,\"requestId\":\"r-1\",\"sessionKey\":\"s-1\",\"tenant\":\"acme\",\"action\":\"credits\"}")))
        .isEmpty();
    assertThat(RequestValidation.problems(req("{\"v\":1,\"requestId\":\"r-1\",\"sessionKey\":\"s-1\",\"tenant\":\" \",\"action\":\"credits\"}")))
        .as("a blank tenant is the default tenant").isEmpty();
  }

  @Test
  void everyProblemIsNamedAtOnce() {
    assertThat(RequestValidation.problems(req("{\"v\":2,\"requestId\":\" \",\"sessionKey\":\"a b\",\"action\":\"cancel\"}")))
        .containsExactly(
            "unsupported message version v=2; this worker reads v=1",
            "requestId is required",
            "sessionKey must be 1-128 characters of A-Z a-z 0-9 . _ : @ -",
            "cancels is required for cancel: the requestId to stop");
  }

  @Test
  void aTenantFollowsTheSameRulesAsTheSessionKeyItNames() {
    assertThat(RequestValidation.problems(req("{\"v\":1,\"requestId\":\"r-1\",\"sessionKey\":\"s-1\",\"tenant\":\"acme/../x\",\"action\":\"credits\"}")))
        .containsExactly("tenant must be 1-128 characters of A-Z a-z 0-9 . _ : @ - (or left out for the default tenant)");
    assertThat(RequestValidation.problems(req("{\"v\":1,\"requestId\":\"r-1\",\"sessionKey\":\"s-1\",\"tenant\":\"" + "t".repeat(129) + "\",\"action\":\"credits\"}")))
        .singleElement().asString().startsWith("tenant must be");
  }

  @Test
  void streamActionsNeedBoundedTextAndUploadsNeedASource() {
    assertThat(RequestValidation.problems(req("{\"v\":1,\"requestId\":\"r-1\",\"sessionKey\":\"s-1\",\"action\":\"generate\",\"text\":\"  \"}")))
        .containsExactly("text is required for generate: say what the video should show");
    assertThat(RequestValidation.problems(req("{\"v\":1,\"requestId\":\"r-1\",\"sessionKey\":\"s-1\",\"action\":\"edit\",\"text\":\"" + "x".repeat(8001) + "\"}")))
        .containsExactly("text is longer than 8000 characters");
    assertThat(RequestValidation.problems(req("{\"v\":1,\"requestId\":\"r-1\",\"sessionKey\":\"s-1\",\"action\":\"upload\",\"upload\":{\"url\":\" \"}}")))
        .containsExactly("upload needs upload.url or upload.path");
  }

  @Test
  void aCallbackUrlIsAnHttpUrlWithAHostAndNoCredentials() {
    String base = "{\"v\":1,\"requestId\":\"r-1\",\"sessionKey\":\"s-1\",\"action\":\"credits\",\"callbackUrl\":";
    assertThat(RequestValidation.problems(req(base + "\"https://hooks.example.com/reelay?k=1\"}"))).isEmpty();
    assertThat(RequestValidation.problems(req(base + "\"ftp://example.com/x\"}")))
        .containsExactly("callbackUrl must be an http:// or https:// URL");
    assertThat(RequestValidation.problems(req(base + "\"https:///nohost\"}"))).containsExactly("callbackUrl must name a host");
    assertThat(RequestValidation.problems(req(base + "\"https://u:p@example.com/\"}")))
        .singleElement().asString().startsWith("callbackUrl must not carry credentials");
    assertThat(RequestValidation.problems(req(base + "\"https://example.com/ spaces\"}")))
        .singleElement().asString().startsWith("callbackUrl is not a URL");
    assertThat(RequestValidation.problems(req(base + "\"https://example.com/" + "x".repeat(2100) + "\"}")))
        .containsExactly("callbackUrl is longer than 2048 characters");
  }
}
