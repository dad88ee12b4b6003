//! Test workbooks written with `rust_xlsxwriter` (or as CSV files), and a harness over the
//! real broker and database: an ingest in a fresh database and namespace, and a queue bound
//! to `coophub.source` that sees what it publishes.

#![allow(dead_code)]

use std::sync::Arc;

use hub_adapter_farmers_union::FarmersUnion;
use hub_adapter_kit::file::{FileIngest, UploadFile};
use hub_adapter_kit::{MIGRATOR, schema_for};
use hub_contracts::RawEnvelope;
use hub_contracts::registry::exchanges;
use hub_contracts::v1::farmers_union::sheets;
use hub_runtime::messaging::{Broker, Publisher, QueueSpec};
use hub_runtime::storage::Database;
use hub_test_support::TestEnv;
use lapin::options::BasicGetOptions;
use rust_xlsxwriter::{ExcelDateTime, Format};

/// A cell as a person would type it.
#[derive(Debug, Clone)]
pub enum V {
    S(String),
    N(f64),
    /// An Excel date cell.
    D(u16, u8, u8),
    B(bool),
    E,
}

pub fn s(x: &str) -> V {
    V::S(x.to_owned())
}

/// One sheet: name, header, rows.
#[derive(Debug, Clone)]
pub struct SheetSpec {
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<V>>,
}

pub fn sheet(name: &str, header: &[&str], rows: Vec<Vec<V>>) -> SheetSpec {
    SheetSpec {
        name: name.to_owned(),
        header: header.iter().map(|h| (*h).to_owned()).collect(),
        rows,
    }
}

/// An XLSX file of these sheets.
pub fn xlsx(sheets: &[SheetSpec]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    for sh in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&sh.name).expect("sheet name");
        for (c, h) in sh.header.iter().enumerate() {
            ws.write_string(0, c as u16, h).expect("header");
        }
        for (r, row) in sh.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, v) in row.iter().enumerate() {
                let c = c as u16;
                match v {
                    V::S(x) => {
                        ws.write_string(r, c, x).expect("text");
                    }
                    V::N(n) => {
                        ws.write_number(r, c, *n).expect("number");
                    }
                    V::D(y, m, d) => {
                        let dt = ExcelDateTime::from_ymd(*y, *m, *d).expect("date");
                        ws.write_datetime_with_format(r, c, &dt, &date)
                            .expect("date cell");
                    }
                    V::B(b) => {
                        ws.write_boolean(r, c, *b).expect("bool");
                    }
                    V::E => {}
                }
            }
        }
    }
    wb.save_to_buffer().expect("xlsx")
}

/// CSV files of these sheets (`;`-separated, with a BOM); an Excel date as `d/m/yyyy`.
pub fn csv_files(sheets: &[SheetSpec]) -> Vec<UploadFile> {
    sheets
        .iter()
        .map(|sh| {
            let mut text = String::from("\u{feff}");
            text.push_str(&sh.header.join(";"));
            text.push('\n');
            for row in &sh.rows {
                let cells: Vec<String> = row
                    .iter()
                    .map(|v| match v {
                        V::S(x) => x.clone(),
                        V::N(n) => format!("{n}"),
                        V::D(y, m, d) => format!("{d}/{m}/{y}"),
                        V::B(b) => if *b { "1" } else { "0" }.to_owned(),
                        V::E => String::new(),
                    })
                    .collect();
                text.push_str(&cells.join(";"));
                text.push('\n');
            }
            UploadFile {
                name: format!("{}.csv", sh.name),
                bytes: text.into_bytes(),
            }
        })
        .collect()
}

pub fn file(name: &str, bytes: Vec<u8>) -> Vec<UploadFile> {
    vec![UploadFile {
        name: name.to_owned(),
        bytes,
    }]
}

pub use hub_contracts::v1::farmers_union::sheets::{
    BRANCH_HEADER, OFFICER_HEADER, TRAINING_HEADER,
};

/// A whole workbook: info, branches, officers, trainings.
pub fn book(
    sender: V,
    report: V,
    branches: Vec<Vec<V>>,
    officers: Vec<Vec<V>>,
    trainings: Vec<Vec<V>>,
) -> Vec<SheetSpec> {
    vec![
        sheet(
            sheets::INFO,
            &sheets::INFO_HEADER,
            vec![vec![sender, report, s("Lò Văn Minh")]],
        ),
        sheet(sheets::BRANCHES, &BRANCH_HEADER, branches),
        sheet(sheets::OFFICERS, &OFFICER_HEADER, officers),
        sheet(sheets::TRAININGS, &TRAINING_HEADER, trainings),
    ]
}

/// An active branch row in `commune`.
pub fn branch(code: &str, commune: &str) -> Vec<V> {
    vec![
        s(code),
        s("Chi hội nông dân nghề nghiệp trồng chè"),
        s("chi_hoi"),
        s(commune),
        V::E,
        s("01/03/2023"),
        V::N(20.0),
        s("hoat_dong"),
        V::E,
        V::E,
        V::E,
        V::E,
    ]
}

/// A commune-level officer row.
pub fn officer(code: &str, commune: &str) -> Vec<V> {
    vec![
        s(code),
        s("Giàng A Páo"),
        s("xa"),
        s(commune),
        s("Chủ tịch"),
        s("co"),
        s("0912 345 678"),
    ]
}

pub fn training(officer: &str) -> Vec<V> {
    vec![
        s(officer),
        s("Kinh tế tập thể 2024"),
        s("02/05/2024"),
        s("04/05/2024"),
        s("Hội Nông dân tỉnh"),
        s("có"),
    ]
}

/// A fresh database and namespace, the ingest over them, and the observer queue.
pub struct Harness {
    pub env: TestEnv,
    pub db: Database,
    pub broker: Broker,
    pub publisher: Arc<Publisher>,
    pub ingest: FileIngest<FarmersUnion>,
    observer: QueueSpec,
    channel: lapin::Channel,
}

impl Harness {
    pub async fn start() -> Self {
        let env = TestEnv::new().await;
        let broker = env.broker("fu-test");
        let channel = broker.channel().await.expect("broker reachable");
        let observer = QueueSpec::new("fu.observer").bind(exchanges::SOURCE, "source.#");
        env.topology()
            .declare_queue(&channel, &observer, &env.retry_policy())
            .await
            .expect("observer queue");
        let db = Database::connect(
            &env.config.database_url,
            &schema_for(hub_adapter_farmers_union::SYSTEM),
            Some(&MIGRATOR),
        )
        .await
        .expect("adapter database");
        let publisher = Arc::new(Publisher::new(broker.clone()));
        let ingest = hub_adapter_farmers_union::ingest(db.clone(), publisher.clone(), 1024 * 1024);
        Self {
            env,
            db,
            broker,
            publisher,
            ingest,
            observer,
            channel,
        }
    }

    /// Every message published since the last drain (publishes are confirmed before an
    /// upload returns, so they are all on the queue).
    pub async fn drain(&self) -> Vec<RawEnvelope> {
        let queue = self.env.topology().name(&self.observer.name);
        let mut out = Vec::new();
        while let Some(m) = self
            .channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            out.push(RawEnvelope::parse(&m.delivery.data).expect("a valid envelope"));
        }
        out
    }

    pub async fn finish(self) {
        let _ = self.channel.close(200, "done".into()).await;
        self.broker.close().await;
        self.env
            .delete_queues(std::slice::from_ref(&self.observer))
            .await;
        self.env.drop_database().await;
    }
}
