// The chart: open and closed sessions per interval as stacked bars, the
// backlog at the end of each interval as a line. Apache ECharts, imported
// piece by piece so the bundle holds only what is drawn, rendered as SVG.
import { BarChart, LineChart } from "echarts/charts";
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { init, use, type ComposeOption } from "echarts/core";
import type { BarSeriesOption, LineSeriesOption } from "echarts/charts";
import type { GridComponentOption, LegendComponentOption, TooltipComponentOption } from "echarts/components";
import { SVGRenderer } from "echarts/renderers";
import type { CountsRow } from "./query";

use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, AriaComponent, SVGRenderer]);

type Option = ComposeOption<BarSeriesOption | LineSeriesOption | GridComponentOption | LegendComponentOption | TooltipComponentOption>;

/** The series colours, shared with the table's legend marks. */
export const colors = { closed: "#9aa6b8", open: "#2458d6", backlog: "#d9661f" };

/**
 * bucketLabels shortens the API's per_interval values for the axis: the
 * date alone when every bucket starts at midnight, the time alone when all
 * fall on one day, both otherwise.
 */
export function bucketLabels(values: readonly string[]): string[] {
  const parts = values.map((v) => ({ date: v.slice(0, 10), time: v.slice(11, 16) }));
  if (parts.every((p) => p.time === "00:00" || p.time === "")) return parts.map((p) => p.date);
  if (new Set(parts.map((p) => p.date)).size === 1) return parts.map((p) => p.time);
  return parts.map((p) => `${p.date.slice(5)} ${p.time}`);
}

/** A chart drawn into an element, redrawn with update. */
export interface Chart {
  update(rows: readonly CountsRow[]): void;
  resize(): void;
}

export function createChart(el: HTMLElement): Chart {
  const chart = init(el, undefined, { renderer: "svg" });
  const base: Option = {
    animationDuration: 300,
    animationDurationUpdate: 300,
    aria: { enabled: true },
    grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
    legend: { top: 4, left: 0, itemWidth: 14, itemHeight: 10, textStyle: { color: "#1b2230" } },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    xAxis: { type: "category", axisTick: { alignWithLabel: true }, axisLabel: { color: "#5b6577", hideOverlap: true } },
    yAxis: { type: "value", minInterval: 1, axisLabel: { color: "#5b6577" }, splitLine: { lineStyle: { color: "#e7ebf1" } } },
  };
  chart.setOption(base);
  return {
    update(rows) {
      const many = rows.length > 60;
      chart.setOption<Option>({
        xAxis: { data: bucketLabels(rows.map((r) => r.per_interval)) },
        series: [
          { name: "Closed", type: "bar", stack: "sessions", color: colors.closed, barMaxWidth: 48, data: rows.map((r) => r.closed_sessions) },
          { name: "Open", type: "bar", stack: "sessions", color: colors.open, barMaxWidth: 48, data: rows.map((r) => r.open_sessions) },
          {
            name: "Backlog at end",
            type: "line",
            color: colors.backlog,
            symbol: many ? "none" : "circle",
            symbolSize: 5,
            lineStyle: { width: 2 },
            data: rows.map((r) => r.open_at_end),
          },
        ],
      });
      el.dataset.buckets = String(rows.length);
    },
    resize: () => chart.resize(),
  };
}
