/*
 * flamescript.h — the fixed text of every flame graph: its CSS and the
 * script that makes it interactive (zoom, search, details line).
 *
 * Owns: two constant strings, embedded as they are by flamegraph.c's
 * renderers into each SVG (inside CDATA sections, so neither holds "]]>").
 * Pure: no state, no functions.
 *
 * What the script relies on in the SVG (flamegraph.c writes it so): the
 * root <svg> holds the <script> and carries data-cw (the width of one
 * label character), data-total and data-unit; each frame is a <g
 * class="f"> (plus " s" when merged) with data-v, holding <title> (lines:
 * the label, then details), <rect> and an optional <text>, nested as the
 * tree is; the controls have the classes reset, details, matched and
 * search.  Colours the script sets: FLAME_SEARCH_FILL on matched frames.
 *
 * Threading: none (constants).
 */
#ifndef HS_VIZ_FLAMESCRIPT_H
#define HS_VIZ_FLAMESCRIPT_H

/* The fill of the frames a search matches. */
#define FLAME_SEARCH_FILL "#e040e0"

/* The <style> text of a flame graph (scoped to svg.flamegraph). */
extern const char flame_style[];
/* The <script> text: finds its <svg> as the parent of its own element. */
extern const char flame_script[];

#endif /* HS_VIZ_FLAMESCRIPT_H */
