#!/usr/bin/env python3
"""Turn `tmux capture-pane -e -p` output (text with SGR colour codes) into a small SVG.

Usage: ansi2svg.py < capture.txt > screen.svg
Only what tmux emits is handled: SGR 0/1/2/3/4/7/22/23/24/27, 30-37/90-97/39, 40-47/100-107/49,
38;5;N / 48;5;N and 38;2;R;G;B / 48;2;R;G;B. Wide characters take two cells.
"""
import html
import re
import sys
import unicodedata

PALETTE = ["#1d1f21", "#cc6666", "#b5bd68", "#f0c674", "#81a2be", "#b294bb", "#8abeb7", "#c5c8c6",
           "#666666", "#ff7b72", "#c3e88d", "#ffd866", "#82aaff", "#c792ea", "#89ddff", "#ffffff"]
FG, BG = "#d0d0d0", "#101418"
CW, CH = 8.4, 17  # cell size in px


def xterm256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


def width(ch):
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def parse(lines):
    rows = []
    style = {"fg": None, "bg": None, "bold": False, "rev": False, "ul": False, "dim": False}
    for line in lines:
        cells = []
        i = 0
        for m in re.finditer(r"\x1b\[([0-9;]*)m|([^\x1b]+)", line):
            if m.group(2) is not None:
                for ch in m.group(2):
                    cells.append((ch, dict(style)))
                    if width(ch) == 2:
                        cells.append(("", dict(style)))
                continue
            codes = [int(c) if c else 0 for c in m.group(1).split(";")] if m.group(1) else [0]
            j = 0
            while j < len(codes):
                c = codes[j]
                if c == 0:
                    style = {"fg": None, "bg": None, "bold": False, "rev": False, "ul": False, "dim": False}
                elif c == 1:
                    style["bold"] = True
                elif c == 2:
                    style["dim"] = True
                elif c == 4:
                    style["ul"] = True
                elif c == 7:
                    style["rev"] = True
                elif c == 22:
                    style["bold"] = style["dim"] = False
                elif c == 24:
                    style["ul"] = False
                elif c == 27:
                    style["rev"] = False
                elif 30 <= c <= 37:
                    style["fg"] = PALETTE[c - 30]
                elif 90 <= c <= 97:
                    style["fg"] = PALETTE[c - 90 + 8]
                elif c == 39:
                    style["fg"] = None
                elif 40 <= c <= 47:
                    style["bg"] = PALETTE[c - 40]
                elif 100 <= c <= 107:
                    style["bg"] = PALETTE[c - 100 + 8]
                elif c == 49:
                    style["bg"] = None
                elif c in (38, 48) and j + 1 < len(codes):
                    key = "fg" if c == 38 else "bg"
                    if codes[j + 1] == 5 and j + 2 < len(codes):
                        style[key] = xterm256(codes[j + 2])
                        j += 2
                    elif codes[j + 1] == 2 and j + 4 < len(codes):
                        style[key] = "#%02x%02x%02x" % tuple(codes[j + 2:j + 5])
                        j += 4
                j += 1
        rows.append(cells)
    return rows


def main():
    lines = sys.stdin.read().rstrip("\n").split("\n")
    rows = parse(lines)
    cols = max((len(r) for r in rows), default=1)
    w, h = int(cols * CW) + 16, int(len(rows) * CH) + 16
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           f'font-family="DejaVu Sans Mono,Menlo,Consolas,monospace" font-size="14">',
           f'<rect width="100%" height="100%" fill="{BG}" rx="6"/>']
    for y, cells in enumerate(rows):
        x = 0
        while x < len(cells):
            ch, st = cells[x]
            fg, bg = st["fg"] or FG, st["bg"]
            if st["rev"]:
                fg, bg = (st["bg"] or BG), (st["fg"] or FG)
            run_start, text = x, ""
            while x < len(cells) and cells[x][1] == st:
                text += cells[x][0]
                x += 1
            px, py = 8 + run_start * CW, 8 + y * CH
            if bg:
                out.append(f'<rect x="{px:.1f}" y="{py}" width="{(x - run_start) * CW:.1f}" height="{CH}" fill="{bg}"/>')
            # block elements (sparklines, gauges) as rectangles: fonts disagree on them
            blocks = "▁▂▃▄▅▆▇█"
            if text and all(c in blocks or c == " " for c in text) and any(c in blocks for c in text):
                for k, c in enumerate(text):
                    if c in blocks:
                        hh = CH * (blocks.index(c) + 1) / 8
                        out.append(f'<rect x="{px + k * CW:.1f}" y="{py + CH - hh:.1f}" width="{CW:.1f}" '
                                   f'height="{hh:.1f}" fill="{fg}"/>')
                continue
            if text.strip():
                attrs = f'fill="{fg}"'
                if st["bold"]:
                    attrs += ' font-weight="bold"'
                if st["dim"]:
                    attrs += ' opacity="0.7"'
                if st["ul"]:
                    attrs += ' text-decoration="underline"'
                out.append(f'<text x="{px:.1f}" y="{py + 13}" {attrs} xml:space="preserve" '
                           f'textLength="{len(text) * CW:.1f}" lengthAdjust="spacingAndGlyphs">{html.escape(text)}</text>')
    out.append("</svg>")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
