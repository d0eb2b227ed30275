package io.reelay.sim;

/** What {@link Mp4Probe} found in a file: an H.264 video track of this size and length. */
public record Mp4Info(double durationSeconds, int width, int height, int frames, String codec) {}
