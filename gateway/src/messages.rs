//! The user-facing text of every `ApiError`, in Russian and English. The Outlook add-in
//! shows these to the user, so they say what to do, not what went wrong inside.

use xgate_tenants::Language;
use xgate_tenants::policy::PolicyViolation;

use crate::bot::BotError;
use crate::directory::DirectoryError;
use crate::error::{ApiError, link_types_list};

pub fn message(err: &ApiError, lang: Language) -> String {
    use ApiError::*;
    let ru = lang == Language::Ru;
    let pick = |r: &str, e: &str| if ru { r.to_string() } else { e.to_string() };
    match err {
        InvalidJson(detail) => {
            if ru {
                format!("Тело запроса не является корректным JSON: {detail}")
            } else {
                format!("The request body is not valid JSON: {detail}")
            }
        }
        InvalidField { field, reason } => {
            if ru {
                format!("Некорректное поле «{field}»: {reason}")
            } else {
                format!("Invalid field `{field}`: {reason}")
            }
        }
        PayloadTooLarge { limit } => {
            if ru {
                format!("Тело запроса больше допустимых {limit} байт")
            } else {
                format!("The request body exceeds the limit of {limit} bytes")
            }
        }
        TenantNotFound(domain) => {
            if ru {
                format!("Почтовый домен «{domain}» не обслуживается этим сервером")
            } else {
                format!("The mail domain `{domain}` is not served here")
            }
        }
        DomainNotServed { user, .. } => {
            if ru {
                format!("Адрес {user} не относится к доменам этой инсталляции eXpress")
            } else {
                format!("{user} does not belong to this eXpress installation's mail domains")
            }
        }
        Unauthenticated => pick(
            "Не удалось определить пользователя: войдите под доменной учётной записью",
            "The user could not be identified: sign in with your domain account",
        ),
        CreatorMismatch { creator, .. } => {
            if ru {
                format!("Создатель {creator} не совпадает с вошедшим пользователем")
            } else {
                format!("The creator {creator} is not the signed-in user")
            }
        }
        Forbidden => pick(
            "Изменять и просматривать эту встречу могут только её создатель и администраторы",
            "Only the meeting's creator and admins may see or change it",
        ),
        MeetingNotFound => pick("Встреча не найдена", "Meeting not found"),
        Policy(PolicyViolation::LinkTypeNotAllowed { requested, allowed }) => {
            if ru {
                format!(
                    "Тип ссылки «{}» запрещён; разрешены: {}",
                    requested.as_str(),
                    link_types_list(allowed)
                )
            } else {
                format!(
                    "Link type `{}` is not allowed; allowed: {}",
                    requested.as_str(),
                    link_types_list(allowed)
                )
            }
        }
        Policy(PolicyViolation::AccessCodeRequired { link_type }) => {
            if ru {
                format!(
                    "Для ссылки типа «{}» нужен код доступа (PIN)",
                    link_type.as_str()
                )
            } else {
                format!("A `{}` link needs an access code (PIN)", link_type.as_str())
            }
        }
        Storage(_) => pick(
            "Хранилище временно недоступно, повторите попытку позже",
            "Storage is temporarily unavailable, please retry later",
        ),
        Template(_) => pick(
            "Шаблон приглашения содержит ошибку; сообщите администратору",
            "The invitation template is broken; tell your administrator",
        ),
        RouteNotFound => pick("Нет такого адреса API", "No such API route"),
        MethodNotAllowed => pick("Метод не поддерживается", "Method not allowed"),
        Bot(e) => bot_message(e, ru),
        Directory(e, _) => directory_message(e, ru),
    }
}

fn directory_message(e: &DirectoryError, ru: bool) -> String {
    let pick = |r: &str, e: &str| if ru { r.to_string() } else { e.to_string() };
    match e {
        DirectoryError::NoCredentials => pick(
            "Войдите под доменной учётной записью",
            "Sign in with your domain account",
        ),
        DirectoryError::InvalidCredentials
        | DirectoryError::UnknownUser
        | DirectoryError::TokenRefused(_) => pick(
            "Неверное имя пользователя или пароль",
            "Wrong user name or password",
        ),
        DirectoryError::InsecureTransport => pick(
            "Пароль можно передавать только по HTTPS",
            "A password may only be sent over HTTPS",
        ),
        DirectoryError::Throttled { retry_after } => {
            let s = retry_after.as_secs().max(1);
            if ru {
                format!("Слишком много неудачных попыток входа; повторите через {s} с")
            } else {
                format!("Too many failed sign-ins; retry in {s} s")
            }
        }
        DirectoryError::NotInGroup => pick(
            "Ваша учётная запись не входит в группу, которой разрешены конференции eXpress",
            "Your account is not in the group allowed to use eXpress conferences",
        ),
        DirectoryError::NoMailbox(_) => pick(
            "У вашей учётной записи нет почтового адреса в каталоге",
            "Your account has no mail address in the directory",
        ),
        DirectoryError::Unavailable(_) => pick(
            "Служба каталога (Active Directory) недоступна, повторите попытку позже",
            "The directory (Active Directory) is unavailable, please retry later",
        ),
    }
}

fn bot_message(e: &BotError, ru: bool) -> String {
    let pick = |r: &str, e: &str| if ru { r.to_string() } else { e.to_string() };
    match e {
        BotError::Rejected { reason, errors, .. } => {
            let base = match reason.as_str() {
                "end_at_earlier_than_now" => {
                    pick("Время окончания уже прошло", "The end time is in the past")
                }
                "start_at_later_than_end_at" => pick(
                    "Начало встречи позже её окончания",
                    "The meeting starts after it ends",
                ),
                "invalid_attributes" => pick(
                    "eXpress отклонил параметры встречи",
                    "eXpress rejected the meeting's fields",
                ),
                "creator_not_found" => pick(
                    "Создатель не зарегистрирован в eXpress или неактивен",
                    "The creator is not registered in eXpress or is inactive",
                ),
                "no_users_found" => pick(
                    "Ни один участник не найден в eXpress",
                    "No member was found in eXpress",
                ),
                "actor_not_found" => pick(
                    "Пользователь не найден в eXpress",
                    "The user was not found in eXpress",
                ),
                "not_permitted" => pick(
                    "Только администратор конференции может её менять",
                    "Only a conference admin may change it",
                ),
                "conference_not_found" => pick(
                    "Конференция не найдена в eXpress",
                    "The conference no longer exists in eXpress",
                ),
                r if r.starts_with("multiple_users_found") => pick(
                    "В eXpress несколько пользователей с этим адресом; обратитесь к администратору",
                    "Several eXpress users share this address; contact your administrator",
                ),
                _ => pick("eXpress отклонил запрос", "eXpress refused the request"),
            };
            let details: Vec<&str> = errors
                .iter()
                .map(String::as_str)
                .filter(|s| !s.is_empty())
                .collect();
            if details.is_empty() {
                base
            } else {
                format!("{base} ({})", details.join("; "))
            }
        }
        BotError::AuthFailed { .. } => pick(
            "Сервер eXpress не принял учётные данные шлюза; сообщите администратору",
            "The eXpress server refused the gateway's credentials; tell your administrator",
        ),
        BotError::Protocol(_) => pick(
            "Сервер eXpress ответил непонятно; сообщите администратору",
            "The eXpress server gave an unexpected answer; tell your administrator",
        ),
        BotError::Unavailable(_) | BotError::TimedOut => pick(
            "Сервер eXpress недоступен, повторите попытку позже",
            "The eXpress server is unreachable, please retry later",
        ),
    }
}
