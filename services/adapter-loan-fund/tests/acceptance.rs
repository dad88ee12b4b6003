//! The adapter kit's acceptance tests against the loan-fund simulator, on the real RabbitMQ
//! and PostgreSQL.

use hub_adapter_kit::Secret;
use hub_adapter_kit::acceptance::{Expected, Target};
use hub_adapter_loan_fund::{Config, LoanFund, build};
use hub_simulators::{Credentials, RunningSims, System, Truth};
use serde_json::Value;

struct LoanTarget;

impl Target for LoanTarget {
    type Source = LoanFund;
    const SYSTEM: System = System::LoanFund;

    fn build(sims: &RunningSims, credentials: &Credentials, page_size: usize) -> LoanFund {
        build(&Config {
            loan_fund_url: sims.loan_fund.base_url.clone(),
            loan_fund_client_id: credentials.loan_client_id.clone(),
            loan_fund_client_secret: Secret::new(&credentials.loan_client_secret),
            loan_fund_page_size: page_size,
            ..Config::default()
        })
        .expect("adapter builds")
    }

    fn expected(truth: &Truth) -> Vec<Expected> {
        truth
            .records
            .loan_fund
            .iter()
            .map(|r| Expected {
                id: r.id.clone(),
                marker: r.modified.clone(),
                bad: r.bad,
            })
            .collect()
    }

    fn observed(data: &Value) -> Option<(String, String)> {
        Some((
            data["loan_no"].as_str()?.to_owned(),
            data["meta"]["raw"]["modified"].as_str()?.to_owned(),
        ))
    }
}

hub_adapter_kit::acceptance_tests!(LoanTarget);
