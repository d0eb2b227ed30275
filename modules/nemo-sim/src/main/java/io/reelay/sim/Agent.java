package io.reelay.sim;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The simulated nemo_agent: turns a user message into a {@link Turn}. Two kinds of turn, after the
 * vendor's docs (nemo-api.md §5.4): a two-stage generation (raw clip, then BGM and title on its own)
 * and an edit (edit_multitrack, then text or, sometimes, silence).
 */
final class Agent {

  enum Kind { GENERATE, EDIT, TEXT, ASK }

  /** How a turn ends besides its normal replies (nemo-api.md §5.4 S-error, crashed turns). */
  enum Failure { NONE, ERROR, CRASH }

  /**
   * What the agent will do with one message: its kind, and the scenarios layered on it, chosen by the
   * magic phrases in the text (README "Scenario phrases") or else by the fault dice.
   */
  record Plan(Kind kind, boolean silent, boolean tempIssue, Failure failure, boolean hang, boolean cut, boolean gui,
      boolean partial) {}

  /** {@code [sim:xyz]} anywhere in a message, case-insensitive. */
  static final Pattern PHRASE = Pattern.compile("\\[sim:([a-z-]+)\\]", Pattern.CASE_INSENSITIVE);

  private static final Pattern GENERATION_WORDS =
      Pattern.compile("\\b(generate|create|make|clip|video)\\b|生成|制作|视频", Pattern.CASE_INSENSITIVE);
  private static final Pattern EDIT_WORDS = Pattern.compile(
      "\\b(add|change|remove|replace|set|put|cut|trim|speed|slow|filter|effect|transition|title|caption|music|bgm|song|subtitle|volume)\\b"
          + "|添加|修改|删除|替换|标题|音乐|字幕",
      Pattern.CASE_INSENSITIVE);
  private static final Pattern QUESTION = Pattern.compile(
      "[?？]\\s*$|^\\s*(what|how|why|who|when|where|which|can you|could you|do you|hello|hi|hey|help|thanks|thank you)\\b"
          + "|吗|什么|怎么|为什么|你好|帮助",
      Pattern.CASE_INSENSITIVE);
  private static final Pattern CJK = Pattern.compile("[\\u4e00-\\u9fff]");
  private static final Pattern SECONDS =
      Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*-?\\s*(?:seconds|second|secs|sec|s|秒)(?![a-z])", Pattern.CASE_INSENSITIVE);
  private static final Pattern QUOTED = Pattern.compile("[\"“「'‘]([^\"”」'’]{1,60})[\"”」'’]");
  private static final Pattern TITLE_AFTER = Pattern.compile("(?:title|caption|标题)\\s*(?:to|:|=|saying|that says)?\\s*(.+)$",
      Pattern.CASE_INSENSITIVE);
  private static final Pattern LEADING_FILLER = Pattern.compile(
      "^(?:please\\s+)?(?:(?:generate|create|make)\\s+)?(?:me\\s+)?(?:(?:a|an)\\s+)?"
          + "(?:\\d+(?:\\.\\d+)?\\s*-?\\s*(?:seconds|second|secs|sec|s)\\s+)?(?:long\\s+)?(?:(?:video|clip)\\s+)?"
          + "(?:(?:of|about|showing|with)\\s+)?(?:(?:a|an|the)\\s+)?",
      Pattern.CASE_INSENSITIVE);
  private static final Set<String> TRAILING_SMALL_WORDS =
      Set.of("a", "an", "the", "at", "of", "in", "on", "to", "through", "with", "and", "over", "under");
  private static final List<String> MUSIC = List.of("Lo-fi", "Ambient Piano", "Upbeat Pop", "Cinematic Strings", "Acoustic Folk");
  /** GUI instructions the real agent gives (it assumes its web editor); clients must translate them (seed table). */
  static final String ALL_GUI_PHRASES = "Preview in timeline to check it. Open the panel on the right to fine-tune the style. "
      + "Drag it onto the timeline to move it. When you are happy, click the Export button. 完成后点击导出即可下载。";
  private static final List<String> EDIT_GUI = List.of(
      "Open the panel on the right to fine-tune it.", "Drag it onto the timeline to move it.", "Preview in timeline to see the change.");
  static final String TEMP_ISSUE = "I encountered a temporary issue while finishing up. Please try again in a moment if anything looks wrong.";

  private final NemoBackend backend;
  private final SimSettings settings;

  Agent(NemoBackend backend) {
    this.backend = backend;
    this.settings = backend.settings;
  }

  /** The scenario phrases in a message, lower-case, without brackets. */
  static Set<String> phrases(String text) {
    Set<String> out = new HashSet<>();
    Matcher m = PHRASE.matcher(text);
    while (m.find()) out.add(m.group(1).toLowerCase(Locale.ROOT));
    return out;
  }

  /** The message without its scenario phrases (what the agent "reads"). */
  static String clean(String text) {
    return PHRASE.matcher(text).replaceAll(" ").replaceAll("\\s+", " ").strip();
  }

  static Kind classify(String text, Draft draft) {
    Set<String> p = phrases(text);
    if (p.contains("ask")) return Kind.ASK;
    if (p.contains("text")) return Kind.TEXT;
    if (p.contains("generate")) return Kind.GENERATE;
    if (p.contains("edit")) return draft.isEmpty() ? Kind.GENERATE : Kind.EDIT;
    String t = clean(text);
    boolean generation = GENERATION_WORDS.matcher(t).find();
    // "what can you do?", "hello": a plain text reply; "can you add music?" is still an edit
    if (!generation && QUESTION.matcher(t).find() && !EDIT_WORDS.matcher(t).find()) return Kind.TEXT;
    return draft.isEmpty() || generation ? Kind.GENERATE : Kind.EDIT;
  }

  /**
   * The plan for a message: phrases first, then the fault dice (rolled in a fixed order, and only for
   * rates above 0, so a seed reproduces the same scenarios).
   */
  Plan plan(String text, Draft draft) {
    Set<String> p = phrases(text);
    FaultDice dice = backend.dice;
    Faults f = dice.current();
    Kind kind = classify(text, draft);
    if (kind != Kind.ASK && p.isEmpty() && dice.roll(f.askQuestion())) kind = Kind.ASK;
    Failure failure = p.contains("crash") ? Failure.CRASH : p.contains("error") ? Failure.ERROR : Failure.NONE;
    if (failure == Failure.NONE && !p.contains("no-fault")) {
      if (dice.roll(f.streamError())) failure = Failure.ERROR;
      else if (dice.roll(f.crashedTurn())) failure = Failure.CRASH;
    }
    boolean tempIssue = p.contains("temp-issue") || (!p.contains("no-fault") && dice.roll(f.tempIssue()));
    boolean hang = p.contains("hang") || (!p.contains("no-fault") && dice.roll(f.streamHang()));
    boolean silent = kind == Kind.EDIT && (p.contains("silent") || (!p.contains("talk") && dice.roll(f.silentEdit())));
    return new Plan(kind, silent, tempIssue, failure, hang, p.contains("cut"), p.contains("gui"), p.contains("stream"));
  }

  int cost(Kind kind) {
    return switch (kind) {
      case GENERATE -> settings.generationCost();
      case EDIT -> settings.editCost();
      case TEXT, ASK -> settings.textCost();
    };
  }

  /** The turn a plan asks for; its cost ({@link #cost}) is already frozen on {@code account}. */
  Turn turn(Plan plan, String rawText, BackendSession session, Account account, SimStats stats) {
    String text = clean(rawText);
    boolean chinese = CJK.matcher(text).find() || session.language.toLowerCase(Locale.ROOT).startsWith("zh");
    List<Turn.Beat> beats = new ArrayList<>(switch (plan.kind()) {
      case GENERATE -> generation(text, session, account, stats, plan.gui(), chinese);
      case EDIT -> edit(text, session, account, stats, plan.silent(), plan.gui(), chinese);
      case TEXT -> textReply(text, account, stats, plan.gui(), chinese);
      case ASK -> question(text, account, stats);
    });
    int cost = cost(plan.kind());
    if (plan.failure() != Failure.NONE) {
      // fail half-way: what was done so far stays done, the rest (and the final spend) never happens
      // (a one-beat turn fails before its reply: that beat would settle the credits)
      int keep = beats.size() > 1 ? Math.max(1, beats.size() / 2) : 0;
      Duration delay = keep == 0 ? beats.get(0).delay().dividedBy(2) : Duration.ZERO;
      beats = new ArrayList<>(beats.subList(0, keep));
      Failure failure = plan.failure();
      beats.add(new Turn.Beat(delay, () -> {
        if (failure == Failure.ERROR) {
          account.release(cost);
          stats.streamErrors.increment();
          return List.of(new AgentEvent.StreamError("Internal error: the agent failed to complete the request. Please try again."));
        }
        // a crashed turn: the backend never settles the hold, the credits stay frozen
        stats.crashedTurns.increment();
        stats.creditsLeaked.add(cost);
        return List.of(new AgentEvent.StreamError("Internal server error"));
      }));
    } else if (plan.tempIssue()) {
      beats.add(new Turn.Beat(Duration.ZERO, () -> {
        stats.tempIssues.increment();
        return List.of(new AgentEvent.Text(TEMP_ISSUE));
      }));
    }
    if (plan.hang()) stats.hangingStreams.increment();
    return new Turn(beats, plan.hang() ? Turn.Ending.HANG : Turn.Ending.CLOSE);
  }

  // ---- text-only and ask_question -----------------------------------------------------------------

  /** S-text: one model text event after 5-15 s (scaled), then close. */
  private List<Turn.Beat> textReply(String question, Account account, SimStats stats, boolean gui, boolean chinese) {
    stats.textTurns.increment();
    Duration total = pick(settings.timing().textMin(), settings.timing().textMax());
    String answer = chinese
        ? "我可以根据文字描述生成视频，添加背景音乐、标题和字幕，并导出 MP4。打开面板可以调整风格。"
        : "I can generate video clips from a text description, add background music, titles and subtitles, "
            + "trim and rearrange clips, and export the result as an MP4. Open the panel on the left to browse templates.";
    String reply = gui ? answer + " " + ALL_GUI_PHRASES : answer;
    return List.of(new Turn.Beat(total, () -> {
      spend(account, settings.textCost(), stats);
      return List.of(new AgentEvent.Text(reply));
    }));
  }

  /** S-question: an ask_question tool call whose args hold the questions, then close (the agent waits for an answer). */
  private List<Turn.Beat> question(String text, Account account, SimStats stats) {
    stats.questionsAsked.increment();
    Duration total = pick(settings.timing().textMin(), settings.timing().textMax());
    String call = backend.ids.shortId("af-");
    Map<String, Object> args = map("questions", List.of(
        map("id", "aspect_ratio", "prompt", "Which aspect ratio should the video have?",
            "options", List.of(map("id", "16:9", "label", "Landscape 16:9"), map("id", "9:16", "label", "Portrait 9:16"),
                map("id", "1:1", "label", "Square 1:1")),
            "allow_multiple", false),
        map("id", "duration", "prompt", "How long should the clip be?",
            "options", List.of(map("id", "5", "label", "5 seconds"), map("id", "10", "label", "10 seconds"),
                map("id", "15", "label", "15 seconds")),
            "allow_multiple", false)),
        "context", text);
    return List.of(new Turn.Beat(total, () -> {
      spend(account, settings.textCost(), stats);
      return List.of(new AgentEvent.ToolCall(call, "ask_question", args, true));
    }));
  }

  // ---- generation ---------------------------------------------------------------------------------

  private List<Turn.Beat> generation(String prompt, BackendSession session, Account account, SimStats stats, boolean gui,
      boolean chinese) {
    stats.generations.increment();
    Duration total = pick(settings.timing().generationMin(), settings.timing().generationMax());
    long clipMs = clipMillis(prompt);
    String title = titleFromPrompt(prompt);
    String genCall = backend.ids.shortId("af-");
    String bgmCall = backend.ids.shortId("af-");
    String titleCall = backend.ids.shortId("af-");
    String music = MUSIC.get((int) Math.floorMod(session.sessionId.hashCode(), MUSIC.size()));
    int w = settings.videoWidth();
    int h = settings.videoHeight();

    List<Turn.Beat> beats = new ArrayList<>();
    beats.add(new Turn.Beat(share(total, 0.03), () -> List.of(new AgentEvent.ToolCall(genCall, "generate_video_with_seedance",
        map("prompt", prompt, "duration", clipMs / 1000.0, "aspect_ratio", aspect(w, h), "resolution", w + "x" + h)))));
    beats.add(new Turn.Beat(share(total, 0.70), () -> {
      NemoBackend.Media media = new NemoBackend.Media(backend.ids.shortId("media_"), clipMs, title, prompt);
      backend.addMedia(session, media);
      Draft d = session.updateDraft(draft -> {
        long start = draft.videoDurationMs();
        return draft.append(Draft.VIDEO, new Draft.Segment(backend.ids.shortId("seg_"), mediaUrl(media.id()), start, clipMs,
            map("title", title, "width", w, "height", h)));
      });
      return List.of(
          new AgentEvent.ToolResult(genCall, "generate_video_with_seedance",
              map("status", "success", "video_url", mediaUrl(media.id()), "duration", clipMs / 1000.0)),
          new AgentEvent.Text("Your raw clip is ready: " + seconds(clipMs) + " s of \"" + title + "\" at " + w + "x" + h
              + ". I'm now adding background music and a title. " + d.summary()));
    }));
    beats.add(new Turn.Beat(share(total, 0.02), () -> List.of(new AgentEvent.ToolCall(bgmCall, "add_background_music",
        map("style", music, "volume", 0.35)))));
    beats.add(new Turn.Beat(share(total, 0.10), () -> {
      session.updateDraft(draft -> draft.replace(Draft.AUDIO, bgm(music, draft.videoDurationMs())));
      return List.of(new AgentEvent.ToolResult(bgmCall, "add_background_music", map("status", "success", "track", music)));
    }));
    beats.add(new Turn.Beat(share(total, 0.02), () -> List.of(new AgentEvent.ToolCall(titleCall, "add_title",
        map("text", title, "duration", 3.0)))));
    beats.add(new Turn.Beat(share(total, 0.10), () -> {
      session.updateDraft(draft -> draft.replace(Draft.TEXT, titleSegment(title)));
      return List.of(new AgentEvent.ToolResult(titleCall, "add_title", map("status", "success", "text", title)));
    }));
    beats.add(new Turn.Beat(share(total, 0.03), () -> {
      spend(account, settings.generationCost(), stats);
      // the GUI phrases are on purpose: the real agent assumes a GUI and clients must translate them
      String done = chinese
          ? "完成！我添加了背景音乐和标题。" + session.draft().summary() + " 在时间线中预览，然后点击导出下载视频。"
          : "Done! I added background music and a title. " + session.draft().summary()
              + " Preview it in the timeline, then click the Export button to download your video.";
      return List.of(new AgentEvent.Text(gui ? done + " " + ALL_GUI_PHRASES : done));
    }));
    return beats;
  }

  // ---- edit ---------------------------------------------------------------------------------------

  private List<Turn.Beat> edit(String instruction, BackendSession session, Account account, SimStats stats, boolean silent,
      boolean gui, boolean chinese) {
    stats.edits.increment();
    Duration total = pick(settings.timing().editMin(), settings.timing().editMax());
    String call = backend.ids.shortId("af-");
    String guiHint = gui ? ALL_GUI_PHRASES
        : chinese ? "打开面板可以继续调整。" : EDIT_GUI.get(Math.floorMod(call.hashCode(), EDIT_GUI.size()));
    List<Turn.Beat> beats = new ArrayList<>();
    beats.add(new Turn.Beat(share(total, 0.1), () -> List.of(new AgentEvent.ToolCall(call, "edit_multitrack",
        map("instruction", instruction)))));
    beats.add(new Turn.Beat(share(total, 0.9), () -> {
      String what = applyEdit(instruction, session);
      spend(account, settings.editCost(), stats);
      List<AgentEvent> out = new ArrayList<>();
      out.add(new AgentEvent.ToolResult(call, "edit_multitrack", map("status", "success", "changed", what)));
      if (silent) {
        stats.silentEdits.increment(); // the vendor's ~30%: tool calls only, the client must poll the state
      } else {
        out.add(new AgentEvent.Text("Done: " + what + ". " + session.draft().summary() + " " + guiHint));
      }
      return out;
    }));
    return beats;
  }

  /** Changes the draft as the instruction asks; returns what changed, in words. */
  private String applyEdit(String instruction, BackendSession session) {
    String lower = instruction.toLowerCase(Locale.ROOT);
    if (lower.matches(".*\\b(title|caption|heading)\\b.*") || instruction.contains("标题")) {
      String title = titleFromEdit(instruction);
      session.updateDraft(d -> d.replace(Draft.TEXT, titleSegment(title)));
      return "title set to \"" + title + "\"";
    }
    if (lower.matches(".*\\b(music|bgm|song|soundtrack|audio)\\b.*") || instruction.contains("音乐")) {
      String current = session.draft().track(Draft.AUDIO)
          .flatMap(t -> t.segments().stream().findFirst()).map(s -> String.valueOf(s.meta().get("name"))).orElse("");
      String next = MUSIC.get((MUSIC.indexOf(current) + 1) % MUSIC.size());
      session.updateDraft(d -> d.replace(Draft.AUDIO, bgm(next, d.videoDurationMs())));
      return "background music changed to " + next;
    }
    // anything else becomes a subtitle on the text track: visible in the state, harmless to a render
    String text = instruction.length() > 80 ? instruction.substring(0, 80) : instruction;
    session.updateDraft(d -> d.append(Draft.TEXT, new Draft.Segment(backend.ids.shortId("seg_"), null, 0,
        Math.max(1000, d.videoDurationMs()), map("text", text, "kind", "subtitle"))));
    return "subtitle added";
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private void spend(Account account, int cost, SimStats stats) {
    account.spend(cost);
    stats.creditsSpent.add(cost);
  }

  private Draft.Segment bgm(String name, long durationMs) {
    return new Draft.Segment(backend.ids.shortId("seg_"), "https://cdn.nemo-sim.local/bgm/"
        + name.toLowerCase(Locale.ROOT).replace(' ', '-') + ".mp3", 0, Math.max(1000, durationMs),
        map("name", name, "volume", 0.35));
  }

  private Draft.Segment titleSegment(String title) {
    return new Draft.Segment(backend.ids.shortId("seg_"), null, 0, 3000, map("title", title));
  }

  private String mediaUrl(String mediaId) {
    return backend.publicBaseUrl() + "/files/media/" + mediaId + ".mp4";
  }

  private Duration pick(Duration min, Duration max) {
    return settings.scaled(Duration.ofMillis(backend.ids.between(min, max)));
  }

  private static Duration share(Duration total, double fraction) {
    return Duration.ofNanos((long) (total.toNanos() * fraction));
  }

  /** The clip length the prompt asks for ("a 5-second clip"), 5 s by default, at most 15 s (one clip). */
  static long clipMillis(String prompt) {
    Matcher m = SECONDS.matcher(prompt);
    double s = m.find() ? Double.parseDouble(m.group(1)) : 5;
    return Math.round(Math.max(1, Math.min(15, s)) * 1000);
  }

  /** A short title from the prompt: quoted text if any, else its first words after "generate a … clip of". */
  static String titleFromPrompt(String prompt) {
    Matcher q = QUOTED.matcher(prompt);
    if (q.find()) return q.group(1).strip();
    String rest = LEADING_FILLER.matcher(prompt.strip()).replaceFirst("");
    List<String> words = new ArrayList<>(List.of(rest.replaceAll("[^\\p{L}\\p{N}\\s'-]", " ").strip().split("\\s+")));
    words.removeIf(String::isEmpty);
    if (words.size() > 6) words = new ArrayList<>(words.subList(0, 6));
    // "Fox Running Through A Snowy Forest", not "... Through A"
    while (words.size() > 1 && TRAILING_SMALL_WORDS.contains(words.get(words.size() - 1).toLowerCase(Locale.ROOT))) {
      words.remove(words.size() - 1);
    }
    StringBuilder sb = new StringBuilder();
    for (String w : words) {
      if (sb.length() > 0) sb.append(' ');
      sb.append(Character.toUpperCase(w.charAt(0))).append(w.substring(1));
    }
    return sb.length() == 0 ? "Untitled" : sb.toString();
  }

  static String titleFromEdit(String instruction) {
    Matcher q = QUOTED.matcher(instruction);
    if (q.find()) return q.group(1).strip();
    Matcher m = TITLE_AFTER.matcher(instruction.strip());
    String t = m.find() ? m.group(1).strip() : "";
    return t.isEmpty() ? "My Video" : (t.length() > 40 ? t.substring(0, 40) : t);
  }

  private static String aspect(int w, int h) {
    int a = w, b = h;
    while (b != 0) { int t = a % b; a = b; b = t; }
    return (w / a) + ":" + (h / a);
  }

  private static String seconds(long ms) {
    return ms % 1000 == 0 ? Long.toString(ms / 1000) : String.format(Locale.ROOT, "%.1f", ms / 1000.0);
  }

  /** An insertion-ordered map that, unlike Map.of, keeps JSON key order stable and allows building from pairs. */
  static Map<String, Object> map(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
    return m;
  }
}
