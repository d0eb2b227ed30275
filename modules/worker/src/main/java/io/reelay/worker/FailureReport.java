package io.reelay.worker;

import io.reelay.nemo.NemoException;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.nemo.FailurePolicy;

/**
 * What a person reads when a request fails: the reason and a hint they can act on, for every row of
 * the seed's error table. Whether a failure is retried is {@code FailurePolicy}'s call.
 */
public final class FailureReport {

  public static final String ACCEPTED_FORMATS =
      "video: mp4 mov avi webm mkv; image: jpg png gif webp; audio: mp3 wav m4a aac";

  private FailureReport() {}

  /**
   * What a person reads when the request fails because of {@code failure}.
   *
   * @param userId the backend user id, for the registration link of anonymous users (may be null)
   */
  public static ErrorInfo describe(Throwable failure, String userId) {
    Throwable t = FailurePolicy.unwrap(failure);
    if (t instanceof NemoException.Backend b) {
      return switch (b.backendCode()) {
        case 2001 -> new ErrorInfo("2001", "Not enough credits for this operation", false,
            userId != null && userId.startsWith("anon_")
                ? "Register to get more credits: https://nemovideo.com/register?bind=" + userId
                : "Top up your NemoVideo credits, then send the request again");
        case 4001 -> new ErrorInfo("4001", "Unsupported file type", false, "Accepted formats: " + ACCEPTED_FORMATS);
        case 4002 -> new ErrorInfo("4002", "File too large", false, "Compress or trim the file, then upload it again");
        case 1001, 1010, 1011 -> new ErrorInfo(b.code(), "The backend refused the token", true,
            "Check NEMO_TOKEN, or unset it to use anonymous tokens; then resubmit");
        case 1002 -> new ErrorInfo("1002", "The backend session is gone", true, "Resubmit the request; a new session will be created");
        default -> new ErrorInfo(b.code(), "The backend answered with code " + b.code(), b.httpStatus() >= 500,
            "Resubmit later; if it persists, report code " + b.code());
      };
    }
    if (t instanceof NemoException.Http h) {
      return switch (h.status()) {
        case 402 -> new ErrorInfo("402", "Export is not available on this plan (this is not about credits)", false,
            "Upgrade the NemoVideo plan, and check that the X-Skill-* attribution headers are configured");
        case 403 -> new ErrorInfo("403", "The token lacks the permission for this call", false,
            "Use a token with the needed scope (NEMO_TOKEN)");
        case 429 -> new ErrorInfo("429", "The backend is rate limiting us", true, "Wait a minute, then resubmit");
        default -> new ErrorInfo(h.code(), "The backend answered HTTP " + h.status(), h.status() >= 500,
            h.status() >= 500 ? "The backend is having trouble; resubmit later" : "Check the request and resubmit");
      };
    }
    if (t instanceof NemoException.Transport) {
      return new ErrorInfo("UNREACHABLE", "Could not reach the video backend", true,
          "Check NEMO_BASE_URL and the network, then resubmit");
    }
    if (t instanceof NemoException.Stream s) {
      return new ErrorInfo(s.code(), "The agent's stream ended abnormally", true,
          "The message was not sent again (that would pay twice); check the session state, then resubmit if nothing changed");
    }
    return new ErrorInfo("INTERNAL", "Unexpected failure: " + t.getClass().getSimpleName(), true,
        "Resubmit; if it persists, report the requestId");
  }
}
