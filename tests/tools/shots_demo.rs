//! Renders a sample UI into a `TestBackend` and rasterizes it to
//! `/tmp/shots_demo.png`, to eyeball the screenshot rasterizer on the kinds of
//! glyphs and styles a real screen uses.
//!
//! Run with `cargo run --example shots_demo`.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

#[path = "raster.rs"]
mod raster;

use std::path::Path;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Cell, Gauge, Paragraph, Row, Sparkline, Table, TableState,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut terminal = Terminal::new(TestBackend::new(100, 30))?;
    terminal.draw(|frame| {
        let outer = Block::bordered()
            .border_type(BorderType::Rounded)
            .title(" portscope — screenshot demo ".bold())
            .title_bottom(Line::from(" q quit · ↑↓ move · ⏎ why ").right_aligned());
        let inner = outer.inner(frame.area());
        frame.render_widget(outer, frame.area());

        let [table_area, middle, gauge_area, status] = Layout::vertical([
            Constraint::Length(9),
            Constraint::Fill(1),
            Constraint::Length(3),
            Constraint::Length(1),
        ])
        .areas(inner);

        let header = Row::new(["PORT", "PROTO", "STATE", "PID", "PROGRAM", "ADDRESS"])
            .style(Style::new().bold().fg(Color::Yellow));
        let rows = [
            ["22", "tcp", "LISTEN", "812", "sshd", "0.0.0.0"],
            [
                "53",
                "udp",
                "UNCONN",
                "640",
                "systemd-resolve",
                "127.0.0.53",
            ],
            ["80", "tcp", "LISTEN", "1410", "nginx", "[::]"],
            ["5432", "tcp", "LISTEN", "977", "postgres", "127.0.0.1"],
            ["8080", "tcp", "LISTEN", "23115", "node", "0.0.0.0"],
        ];
        let rows = rows.into_iter().enumerate().map(|(i, r)| {
            let state = if r[2] == "LISTEN" {
                Cell::from(r[2]).green()
            } else {
                Cell::from(r[2]).dim()
            };
            let row = Row::new([
                Cell::from(r[0]),
                Cell::from(r[1]).cyan(),
                state,
                Cell::from(r[3]),
                Cell::from(r[4]).fg(Color::Indexed(214)),
                Cell::from(r[5]),
            ]);
            if i % 2 == 1 {
                row.style(Style::new().bg(Color::Indexed(236)))
            } else {
                row
            }
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(17),
                Constraint::Fill(1),
            ],
        )
        .header(header)
        .block(Block::bordered().title(" Listeners ┤ 5 "))
        .row_highlight_style(Style::new().bg(Color::Blue).fg(Color::White).bold())
        .highlight_symbol("▶ ");
        let mut state = TableState::default().with_selected(Some(3));
        frame.render_stateful_widget(table, table_area, &mut state);

        let [bars_area, text_area] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)]).areas(middle);

        let bar = |label: &str, full: usize, part: &str, color: Color| {
            Line::from(vec![
                Span::raw(format!("{label:<5}")),
                Span::styled("█".repeat(full) + part, Style::new().fg(color)),
            ])
        };
        let bars = Paragraph::new(vec![
            bar("cpu", 18, "▋", Color::Green),
            bar("mem", 25, "▎", Color::Yellow),
            bar("disk", 33, "▉", Color::Red),
            Line::from(vec![
                Span::raw("shade"),
                Span::styled("░░░▒▒▒▓▓▓███", Style::new().fg(Color::Rgb(80, 160, 255))),
                Span::raw(" ▀▄▌▐▖▗▘▝▚▞"),
            ]),
            Line::from(vec![
                Span::raw("rise "),
                Span::styled("▁▂▃▄▅▆▇█", Style::new().fg(Color::Cyan)),
                Span::raw(" "),
                Span::styled("▏▎▍▌▋▊▉█", Style::new().fg(Color::Magenta)),
            ]),
            Line::from(" ⣿⣀⡇⠉ ┄┄ ┈┈ ╌╌ ╱╲╳"),
        ])
        .block(
            Block::bordered()
                .border_type(BorderType::Double)
                .title(" Bars "),
        );
        frame.render_widget(bars, bars_area);

        let text = Paragraph::new(vec![
            Line::from(vec![
                "red ".red(),
                "green ".green(),
                "yellow ".yellow(),
                "blue ".blue(),
                "magenta ".magenta(),
                "cyan ".cyan(),
                "gray".gray(),
            ]),
            Line::from(vec![
                "lred ".light_red(),
                "lgreen ".light_green(),
                "lblue ".light_blue(),
                "idx208 ".fg(Color::Indexed(208)),
                "rgb ".fg(Color::Rgb(255, 105, 180)),
                " on rgb ".bg(Color::Rgb(60, 20, 90)),
            ]),
            Line::from(vec![
                "bold ".bold(),
                "dim ".dim(),
                "underlined".underlined(),
                " ".into(),
                "italic ".italic(),
                "reversed".reversed(),
                " ".into(),
                "crossed".crossed_out(),
            ]),
            Line::from("• · ▶ ◀ ▲ ▼ … ✓ ✗ → ← ↑ ↓ ● ○ ★ ⚠"),
            Line::from(vec!["ok ✓ ".green().bold(), "fail ✗ ".red().bold()]),
            Line::from("wide: 端口冲突 ok | Ωµß ÄÖÜ é ñ"),
            Line::from("{[(<0O1lI|`'\"~^$%&*@#>)]}"),
        ])
        .block(
            Block::bordered()
                .border_type(BorderType::Thick)
                .title(" Text ")
                .title_style(Style::new().add_modifier(Modifier::ITALIC)),
        );
        frame.render_widget(text, text_area);

        let [gauge_area, spark_area] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(gauge_area);
        let gauge = Gauge::default()
            .block(Block::bordered().title(" bind probe "))
            .gauge_style(Style::new().fg(Color::Green).bg(Color::Black))
            .use_unicode(true)
            .ratio(0.63);
        frame.render_widget(gauge, gauge_area);
        let data: Vec<u64> = (0..60u64).map(|i| (i * 7 + i * i) % 23).collect();
        let spark = Sparkline::default()
            .block(Block::bordered().title(" conns/s "))
            .style(Style::new().fg(Color::LightMagenta))
            .data(&data);
        frame.render_widget(spark, spark_area);

        frame.render_widget(
            Line::from(vec![
                " NORMAL ".black().on_green().bold(),
                " 5 listeners · 1 conflict on :8080 ".reversed(),
                " filter: tcp "
                    .fg(Color::Indexed(250))
                    .bg(Color::Indexed(238)),
            ]),
            status,
        );
    })?;
    let path = Path::new("/tmp/shots_demo.png");
    raster::buffer_to_png(terminal.backend().buffer(), path)?;
    println!("wrote {}", path.display());
    Ok(())
}
