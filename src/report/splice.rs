//! How the HTML written in Rust ([`super::fragments`]) gets into a page: not through
//! tera. A fragment in a view serializes as a short token; tera renders the template
//! around the tokens; the tokens are then replaced by the fragments, each moved into
//! the page and dropped as it goes.
//!
//! Why: a 1,000-target run page is ~28 MB of finding articles and rows. Passed through
//! tera, those bytes were held three times at once — the view's fragments, tera's copy
//! in its context, and the output growing around them — which was the largest part of
//! a fleet audit's peak memory (heaptrack, BENCHMARKS.md sixth round). Now they are
//! held once, plus the part of the page already written.
//!
//! The token holds a random number drawn per render, so no value a server reports
//! (escaped, but otherwise written as it came) can pass for one.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::{Serialize, Serializer};

/// HTML already written and escaped, for a template to show with `| safe`. Serialized
/// inside [`collect`], it leaves the view (a view is serialized once, then dropped);
/// elsewhere (a test printing a view) it serializes as the HTML itself.
#[derive(Default)]
pub struct Html(Cell<String>);

impl Html {
    pub fn new(html: String) -> Html {
        Html(Cell::new(html))
    }

    /// The HTML, for tests.
    #[cfg(test)]
    pub fn text(&self) -> String {
        let html = self.0.take();
        self.0.set(html.clone());
        html
    }
}

impl Clone for Html {
    fn clone(&self) -> Html {
        let html = self.0.take();
        self.0.set(html.clone());
        Html::new(html)
    }
}

impl fmt::Debug for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let html = self.0.take();
        let r = f.debug_tuple("Html").field(&html.len()).finish();
        self.0.set(html);
        r
    }
}

impl Serialize for Html {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let html = self.0.take();
        // An empty fragment stays empty: templates test it (`{% if findings.failing %}`).
        if html.is_empty() {
            return serializer.serialize_str("");
        }
        if PENDING.with(|p| p.borrow().is_none()) {
            let r = serializer.serialize_str(&html);
            self.0.set(html);
            return r;
        }
        let token = PENDING.with(|p| p.borrow_mut().as_mut().expect("checked above").push(html));
        serializer.serialize_str(&token)
    }
}

thread_local! {
    /// The fragments of the view being serialized on this thread ([`collect`]).
    static PENDING: RefCell<Option<Fragments>> = const { RefCell::new(None) };
}

/// The fragments taken from a view, by the index their token holds.
pub struct Fragments {
    /// `\u{1}dwhtml<nonce>n`: what every token of this render starts with.
    prefix: String,
    parts: Vec<Option<String>>,
}

/// The token ends with this; only ASCII letters and digits come between (tera's
/// escaping changes none of them, should a template forget `| safe`).
const END: char = '\u{1}';

impl Fragments {
    fn new() -> Fragments {
        Fragments { prefix: format!("{END}dwhtml{:016x}n", crate::run::nonce()), parts: Vec::new() }
    }

    fn push(&mut self, html: String) -> String {
        self.parts.push(Some(html));
        format!("{}{}{END}", self.prefix, self.parts.len() - 1)
    }
}

/// Runs `serialize` (which serializes a view) with this thread collecting the view's
/// fragments: what it returns, and the fragments, for [`splice`].
pub fn collect<T>(serialize: impl FnOnce() -> T) -> (T, Fragments) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            PENDING.with(|p| p.borrow_mut().take());
        }
    }
    PENDING.with(|p| *p.borrow_mut() = Some(Fragments::new()));
    let reset = Reset;
    let out = serialize();
    let fragments = PENDING.with(|p| p.borrow_mut().take()).expect("set above");
    drop(reset);
    (out, fragments)
}

/// A token in a rendered page that does not name a fragment of its render, or names
/// one a second time: a template bug, never a value's doing.
#[derive(Debug, thiserror::Error)]
#[error("fragment token {0} is unknown or appears twice")]
pub struct SpliceError(usize);

/// `rendered` with each token replaced by its fragment. Fragments a template did not
/// show (an `{% if %}` not taken) are dropped.
pub fn splice(rendered: String, mut fragments: Fragments) -> Result<String, SpliceError> {
    if fragments.parts.is_empty() {
        return Ok(rendered);
    }
    let total = rendered.len() + fragments.parts.iter().flatten().map(String::len).sum::<usize>();
    let mut out = String::with_capacity(total);
    let mut rest = rendered.as_str();
    while let Some(at) = rest.find(&fragments.prefix) {
        out.push_str(&rest[..at]);
        let after = &rest[at + fragments.prefix.len()..];
        let end = after.find(END).unwrap_or(after.len());
        let index: usize = after[..end].parse().map_err(|_| SpliceError(usize::MAX))?;
        let part = fragments.parts.get_mut(index).and_then(Option::take);
        out.push_str(&part.ok_or(SpliceError(index))?);
        rest = after.get(end + END.len_utf8()..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct View {
        title: String,
        body: Html,
        empty: Html,
    }

    fn render(template: &str, view: View) -> Result<String, SpliceError> {
        let mut tera = tera::Tera::new();
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_template("t.html", template).unwrap();
        let (context, fragments) = collect(|| tera::Context::from_serialize(&view).unwrap());
        drop(view);
        splice(tera.render("t.html", &context).unwrap(), fragments)
    }

    fn view() -> View {
        View {
            title: "a <b>".into(),
            body: Html::new("<p>x &amp; y</p>".into()),
            empty: Html::default(),
        }
    }

    #[test]
    fn fragments_land_where_the_template_puts_them() {
        let t = "<h1>{{ title }}</h1>{{ body | safe }}{% if empty %}E{% else %}none{% endif %}";
        assert_eq!(render(t, view()).unwrap(), "<h1>a &lt;b&gt;</h1><p>x &amp; y</p>none");
        // A fragment the template leaves out is dropped, not an error.
        assert_eq!(render("{{ title }}", view()).unwrap(), "a &lt;b&gt;");
    }

    #[test]
    fn a_fragment_shown_twice_is_an_error() {
        assert!(render("{{ body | safe }}{{ body | safe }}", view()).is_err());
    }

    #[test]
    fn a_value_cannot_pass_for_a_token() {
        // A value written like a token of another render (the nonce differs) stays text.
        let (_, other) = collect(|| serde_json::to_string(&view()).unwrap());
        let forged = format!("{}0{END}", other.prefix);
        let v = View { title: forged.clone(), ..view() };
        let out = render("{{ title }}|{{ body | safe }}", v).unwrap();
        assert_eq!(out, format!("{forged}|<p>x &amp; y</p>"));
    }

    #[test]
    fn outside_a_render_a_fragment_serializes_as_its_html() {
        let v = view();
        let json = serde_json::to_string(&v).unwrap();
        assert!(json.contains("<p>x &amp; y</p>"), "{json}");
        // … and stays in the view.
        assert_eq!(v.body.text(), "<p>x &amp; y</p>");
    }
}
