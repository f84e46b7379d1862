//! Installers file an installation request from a form: the building, the door, the device's
//! id and key (the agent prints them at first start), wiring notes and evidence photos, all in
//! one multipart post. Everything is checked before anything is stored — the fields as the
//! API checks them, every photo by its bytes (not the name or the type the browser claims) —
//! so a refused form leaves nothing behind; the request then goes through the API's own
//! `file_as` and `add_photo_as`.

use askama::Template;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use doorman_proto::CreateInstallationRequest;

use super::{form_token, same_secret, see_other, session_csrf, signed_in_form, signed_in_page};
use crate::api::installations::{MAX_PHOTO_BYTES, add_photo_as, file_as, sniff_photo};
use crate::api::{ApiError, Credentials, Shared};
use crate::web::{error_page, render};

/// Photos taken with one form.
pub(super) const MAX_FORM_PHOTOS: usize = 5;
/// The largest form post: the photos and a little for the fields.
pub(super) const MAX_UPLOAD: usize = MAX_FORM_PHOTOS * MAX_PHOTO_BYTES + 64 * 1024;
/// The largest text field read (notes are at most 8 KiB; the API says so precisely).
const MAX_FIELD: usize = 16 * 1024;

#[derive(Template, Default)]
#[template(path = "file_installation.html")]
struct FileForm {
    csrf: String,
    property: String,
    door: String,
    device_id: String,
    device_key: String,
    notes: String,
    problem: Option<String>,
    max_photos: usize,
    max_photo_mib: usize,
}

impl FileForm {
    fn new(csrf: String) -> FileForm {
        FileForm {
            csrf,
            max_photos: MAX_FORM_PHOTOS,
            max_photo_mib: MAX_PHOTO_BYTES / (1024 * 1024),
            ..FileForm::default()
        }
    }
}

pub(super) async fn form(
    State(api): State<Shared>,
    creds: Credentials,
    RawQuery(q): RawQuery,
) -> Response {
    // `?property=` fills the building in (a link from the building's public record).
    let property = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "property")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    signed_in_page(&api, creds, move |_, _, csrf| {
        Ok(FileForm {
            property,
            ..FileForm::new(csrf)
        })
    })
    .await
}

/// A photo as it came in the form.
struct Photo {
    name: String,
    content_type: &'static str,
    bytes: Vec<u8>,
}

/// A form's text fields and photos, and the first problem found (reading stops there).
struct Posted {
    fields: std::collections::HashMap<String, String>,
    photos: Vec<Photo>,
    problem: Option<String>,
}

/// Reads a whole multipart form, up to its first problem.
async fn read(mp: Multipart) -> Posted {
    let mut posted = Posted {
        fields: std::collections::HashMap::new(),
        photos: Vec::new(),
        problem: None,
    };
    if let Err(problem) = read_into(mp, &mut posted).await {
        posted.problem = Some(problem);
    }
    posted
}

async fn read_into(mut mp: Multipart, posted: &mut Posted) -> Result<(), String> {
    let too_large = || {
        format!(
            "the upload is too large: at most {MAX_FORM_PHOTOS} photos of {} MiB each",
            MAX_PHOTO_BYTES / (1024 * 1024)
        )
    };
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err("the form could not be read: send it again".into()),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "photos" {
            let file = field.file_name().unwrap_or_default().to_string();
            let bytes = match field.bytes().await {
                Ok(b) => b,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(too_large());
                }
                Err(_) => return Err("a photo could not be read: send the form again".into()),
            };
            // A file input left empty still sends one empty part.
            if bytes.is_empty() && file.is_empty() {
                continue;
            }
            if posted.photos.len() == MAX_FORM_PHOTOS {
                return Err(format!("at most {MAX_FORM_PHOTOS} photos at once"));
            }
            if bytes.len() > MAX_PHOTO_BYTES {
                return Err(format!(
                    "photo {file:?} is larger than {} MiB",
                    MAX_PHOTO_BYTES / (1024 * 1024)
                ));
            }
            let Some(content_type) = sniff_photo(&bytes) else {
                return Err(format!("{file:?} is not a JPEG, PNG, WebP or HEIC photo"));
            };
            posted.photos.push(Photo {
                name: file,
                content_type,
                bytes: bytes.to_vec(),
            });
            continue;
        }
        match field.text().await {
            Ok(t) if t.len() <= MAX_FIELD => {
                posted.fields.entry(name).or_insert(t);
            }
            Ok(_) => return Err(format!("{name}: too long")),
            Err(_) => return Err(format!("{name}: not text")),
        }
    }
    Ok(())
}

/// Reads a signed-in person's multipart form. A form with a problem comes back to be drawn
/// again with it (nothing is stored from it); one without has its CSRF token checked.
async fn checked(
    creds: &Credentials,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Posted, Response> {
    let Some(secret) = creds.bearer.clone().filter(|_| creds.from_cookie) else {
        return Err(see_other("/signin", &[]));
    };
    let posted = match mp {
        Ok(mp) => read(mp).await,
        Err(_) => Posted {
            fields: std::collections::HashMap::new(),
            photos: Vec::new(),
            problem: Some("that was not this site's form: fill it in below".into()),
        },
    };
    let csrf = posted.fields.get("csrf").map_or("", String::as_str);
    if posted.problem.is_none() && !same_secret(&session_csrf(&secret), csrf) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "Nothing was done",
            "The form had expired or came from another site. Go back, reload the page and try again.",
        ));
    }
    Ok(posted)
}

/// Stores checked photos on a request.
fn add_photos(
    api: &crate::api::Api,
    who: &crate::api::auth::Authed,
    request: &str,
    photos: &[Photo],
    filed_now: bool,
) -> Result<(), ApiError> {
    for p in photos {
        add_photo_as(
            api,
            who,
            request,
            p.content_type.to_string(),
            &p.bytes,
        )
        .map_err(|e| {
            if filed_now {
                ApiError::new(
                    e.code,
                    format!(
                        "the request {request} is filed, but photo {:?} was not stored ({}): add it on the request's page",
                        p.name, e.detail
                    ),
                )
            } else {
                e
            }
        })?;
    }
    Ok(())
}

pub(super) async fn file(
    State(api): State<Shared>,
    creds: Credentials,
    mp: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut typed = FileForm::new(form_token(&creds));
    let posted = match checked(&creds, mp).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let field = |n: &str| posted.fields.get(n).cloned().unwrap_or_default();
    typed.property = field("property").trim().to_string();
    typed.door = field("door").trim().to_string();
    typed.device_id = field("device_id").trim().to_string();
    typed.device_key = field("device_key").trim().to_string();
    typed.notes = field("notes");
    if let Some(problem) = posted.problem {
        typed.problem = Some(problem);
        return render(StatusCode::BAD_REQUEST, &typed);
    }
    let photos = posted.photos;
    let outcome = signed_in_form(&api, creds, move |api, who| {
        let req = CreateInstallationRequest {
            property: typed.property.clone(),
            door: typed.door.clone(),
            device_id: typed.device_id.clone(),
            device_key: typed.device_key.clone(),
            notes: typed.notes.clone(),
            installer: None,
        };
        // The fields first: a refused request stores nothing, photos included.
        let filed = match file_as(api, who, &req) {
            Ok(i) => i,
            Err(e) if e.is_fixable() => {
                let status = e.status();
                typed.problem = Some(e.detail);
                return Ok(Err((status, typed)));
            }
            Err(e) => return Err(e),
        };
        add_photos(api, who, filed.id.as_str(), &photos, true)?;
        Ok(Ok(filed.id.to_string()))
    })
    .await;
    match outcome {
        Ok(Ok(id)) => see_other(&format!("/app/installations/{id}?done=filed"), &[]),
        Ok(Err((status, form))) => render(status, &form),
        Err(r) => r,
    }
}

/// `POST /app/installations/{id}/photos`: more photos for a waiting request (its installer).
pub(super) async fn photos(
    State(api): State<Shared>,
    creds: Credentials,
    p: crate::api::Params,
    mp: Result<Multipart, MultipartRejection>,
) -> Response {
    let id = p.get(0).to_string();
    let photos = match checked(&creds, mp).await {
        Ok(Posted {
            problem: Some(problem),
            ..
        }) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "No photo was added",
                &format!("{problem}. Go back and choose the photos again."),
            );
        }
        Ok(p) => p.photos,
        Err(r) => return r,
    };
    if photos.is_empty() {
        return error_page(
            StatusCode::BAD_REQUEST,
            "No photo was added",
            "Choose at least one photo, then send the form.",
        );
    }
    let request = id.clone();
    match signed_in_form(&api, creds, move |api, who| {
        add_photos(api, who, &request, &photos, false)
    })
    .await
    {
        Ok(()) => see_other(&format!("/app/installations/{id}?done=photos"), &[]),
        Err(r) => r,
    }
}
