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

  @Test
  void aCallbackUrlEveryHttpClientCanUseIsTheOnlyOneAccepted() {
    assertThat(callback("https://hooks.example.com:8443/reelay?k=a%20b&x=1")).isNull();
    assertThat(callback("http://127.0.0.1:65535/h")).isNull();
    assertThat(callback("http://[::1]:8080/h")).isNull();
    assertThat(callback("HTTPS://EXAMPLE.COM/h")).isNull();
    assertThat(callback("https://example.com/" + "x".repeat(2028))).as("2048 characters").isNull();

    assertThat(callback("https://example.com:99999/hook")).isEqualTo("callbackUrl has port 99999; a port is 1-65535");
    assertThat(callback("https://example.com:0/hook")).isEqualTo("callbackUrl has port 0; a port is 1-65535");
    assertThat(callback("https://example.com:99999999999/hook")).startsWith("callbackUrl has no valid host and port (");
    assertThat(callback("https://example.com:/hook")).startsWith("callbackUrl has an empty port");
    assertThat(callback("https://example.com/hook#part")).startsWith("callbackUrl must not have a #fragment");
    assertThat(callback("https://exa_mple.com/hook")).startsWith("callbackUrl has no valid host and port (");
    assertThat(callback("http://[fe80::1%25eth0]/hook")).startsWith("callbackUrl must not name an IPv6 zone");
    assertThat(callback("https://example.com/a b")).isEqualTo("callbackUrl is not a URL (a space at index 21; percent-encode it)");
    assertThat(callback("https://example.com/caf\u00e9")).isEqualTo("callbackUrl is not a URL (character U+00E9 at index 23; percent-encode it)");
    assertThat(callback("https://example.com/\tx")).startsWith("callbackUrl is not a URL (character U+0009 at index 20");
    assertThat(callback("https://example.com/h?q=a|b")).startsWith("callbackUrl is not a URL (Illegal character in query");
    assertThat(callback("https://example.com/a%zz")).startsWith("callbackUrl is not a URL (Malformed escape pair");
    assertThat(callback("https://example.com/" + "x".repeat(2029))).isEqualTo("callbackUrl is longer than 2048 characters");
    assertThat(callback("mailto:someone@example.com")).isEqualTo("callbackUrl must be an http:// or https:// URL");
  }

  @Test
  void everyStringFieldHasAMaximumAndGoingOverItNamesTheField() {
    Request.Upload longUpload = new Request.Upload("https://example.com/" + "u".repeat(2030), "p".repeat(1025), "f".repeat(256),
        "video/" + "m".repeat(250));
    Request r = new Request(1, "r-1", "s-1", null, null, Action.UPLOAD, "e".repeat(36), longUpload,
        new Request.Output("f".repeat(33), "q".repeat(33)), null, null, null);
    assertThat(RequestValidation.problems(r)).containsExactlyInAnyOrder(
        "language is longer than 35 characters",
        "upload.url is longer than 2048 characters",
        "upload.path is longer than 1024 characters",
        "upload.fileName is longer than 255 characters",
        "upload.contentType is longer than 255 characters",
        "output.format is longer than 32 characters",
        "output.quality is longer than 32 characters");

    Request.Upload fits = new Request.Upload(null, "p".repeat(1024), "f".repeat(255), "video/mp4");
    assertThat(RequestValidation.problems(new Request(1, "r-1", "s-1", null, null, Action.UPLOAD, "e".repeat(35), fits,
        new Request.Output("f".repeat(32), "q".repeat(32)), null, null, null))).isEmpty();

    Request cancel = new Request(1, "r-1", "s-1", null, null, Action.CANCEL, null, null, null, "x".repeat(129), null, null);
    assertThat(RequestValidation.problems(cancel)).containsExactly("cancels must be a requestId: 1-128 characters of A-Z a-z 0-9 . _ : @ -");
  }

  /** The one problem of a request whose only flaw is its callback URL, or null. */
  private static String callback(String url) {
    Request r = new Request(1, "r-1", "s-1", null, null, Action.CREDITS, null, null, null, null, url, null);
    java.util.List<String> p = RequestValidation.problems(r);
    assertThat(p).hasSizeLessThanOrEqualTo(1);
    return p.isEmpty() ? null : p.get(0);
  }
}
