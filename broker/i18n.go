package broker

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// messages holds every user-visible string, per language. Keys missing in
// Japanese fall back to English; a test keeps the two sets equal.
var messages = map[string]map[string]string{
	"en": {
		"lang.name":             "English",
		"signin.title":          "Sign in",
		"signin.to":             "to continue to %s",
		"signin.username":       "User name or email",
		"signin.password":       "Password",
		"signin.submit":         "Sign in",
		"signin.other":          "Other ways to sign in",
		"signin.with":           "Sign in with %s",
		"chooser.title":         "Choose how to sign in",
		"chooser.email":         "Work email",
		"chooser.continue":      "Continue",
		"chooser.unavailable":   "currently unavailable",
		"err.credentials":       "The user name or password is incorrect.",
		"err.disabled":          "The user name or password is incorrect.",
		"err.throttled":         "Too many failed attempts. Try again in %d seconds.",
		"err.title":             "Something went wrong",
		"err.correlation":       "Reference",
		"err.badrequest":        "The request was not valid. Please start again from the application.",
		"err.csrf":              "This form has expired or was not sent from this site. Please try again.",
		"err.expired":           "Your sign-in took too long or was started in another browser. Please start again.",
		"err.unknownupstream":   "That sign-in method is not available.",
		"err.nodomain":          "No sign-in method is configured for that email domain.",
		"err.foreigndomain":     "This account cannot sign in here: its user name or email is in a domain another sign-in method is responsible for. Sign in with that one instead.",
		"err.unavailable":       "The sign-in service is temporarily unavailable. Please try again later.",
		"err.proto.request":     "The application sent a sign-in request that fedgate cannot accept (%s). Please start again from the application; if it keeps happening, tell its administrator.",
		"err.proto.signout":     "The application sent a sign-out request that fedgate cannot accept (%s). You are still signed in.",
		"err.proto.expired":     "This sign-in request has expired (%s). Please start again from the application.",
		"err.proto.replayed":    "This sign-in request was already used (%s). Please start again from the application.",
		"err.proto.here":        "This application cannot be opened from here (%s). Please start from the application.",
		"err.proto.noid":        "Your account lacks the identifier this application knows users by (%s). Please tell your administrator.",
		"err.proto.denied":      "You are not allowed to use this application (%s).",
		"err.proto.internal":    "fedgate could not answer the application (%s). If it persists, contact your help desk with the reference below.",
		"err.proto.unavailable": "The sign-in service is temporarily unavailable (%s). Please try again later.",
		"err.internal":          "An internal error occurred. If it persists, contact your help desk with the reference below.",
		"err.notfound":          "The page was not found.",
		"err.denied":            "Access denied",
		"err.denied.default":    "You are not allowed to use this application.",
		"err.mfa":               "This application requires multi-factor authentication, which is not available for your sign-in method.",
		"err.toolarge":          "The request was too large.",
		"err.mfa.notproven":     "Multi-factor authentication was required, but the sign-in service did not confirm it. Please try again.",
		"err.declined":          "The sign-in was cancelled or refused by the sign-in service.",
		"err.rejected":          "The answer from the sign-in service could not be verified. Please start again.",
		"err.backend":           "The application is not responding. Please try again later.",
		"err.signin":            "Sign-in required.",
		"err.retry":             "Start again",
		"out.title":             "Signed out",
		"out.text":              "You have signed out. Close the browser to be safe on a shared computer.",
		"out.again":             "Sign in again",
		"neg.title":             "Signing in",
		"neg.text":              "Continuing to sign in…",
		"neg.continue":          "Continue",
		"err.negotiate":         "This app signs you in with Windows, on the company network only, and that did not work here. Contact your help desk.",
		"logout.title":          "Sign out",
		"logout.confirm":        "Do you want to sign out?",
		"logout.submit":         "Sign out",
		"who.title":             "You are signed in",
		"who.app":               "Application: %s",
		"who.name":              "Name",
		"who.username":          "User name",
		"who.email":             "Email",
		"who.upstream":          "Signed in with",
		"who.groups":            "Groups",
		"who.nogroups":          "(none)",
		"who.method":            "Method",
		"who.authtime":          "Signed in at",
		"who.expires":           "Session ends",
		"help":                  "Help",
		"skip":                  "Skip to main content",
		"amr.pwd":               "password",
		"amr.mfa":               "multi-factor",
		"amr.otp":               "one-time code",
		"amr.kerberos":          "Windows sign-in",
	},
	"ja": {
		"lang.name":             "日本語",
		"signin.title":          "サインイン",
		"signin.to":             "%s を続行するには",
		"signin.username":       "ユーザー名またはメールアドレス",
		"signin.password":       "パスワード",
		"signin.submit":         "サインイン",
		"signin.other":          "その他のサインイン方法",
		"signin.with":           "%s でサインイン",
		"chooser.title":         "サインイン方法を選択",
		"chooser.email":         "会社のメールアドレス",
		"chooser.continue":      "次へ",
		"chooser.unavailable":   "現在利用できません",
		"err.credentials":       "ユーザー名またはパスワードが正しくありません。",
		"err.disabled":          "ユーザー名またはパスワードが正しくありません。",
		"err.throttled":         "失敗回数が多すぎます。%d 秒後にもう一度お試しください。",
		"err.title":             "エラーが発生しました",
		"err.correlation":       "参照番号",
		"err.badrequest":        "要求が正しくありません。アプリケーションからやり直してください。",
		"err.csrf":              "このフォームは有効期限切れか、このサイト以外から送信されました。もう一度お試しください。",
		"err.expired":           "サインインに時間がかかりすぎたか、別のブラウザーで開始されました。最初からやり直してください。",
		"err.unknownupstream":   "そのサインイン方法は利用できません。",
		"err.nodomain":          "そのメールドメインにはサインイン方法が設定されていません。",
		"err.foreigndomain":     "このアカウントではここにサインインできません。ユーザー名またはメールアドレスのドメインは、別のサインイン方法が管理しています。そちらでサインインしてください。",
		"err.unavailable":       "サインイン サービスが一時的に利用できません。しばらくしてからお試しください。",
		"err.proto.request":     "アプリケーションから、fedgate が受け付けられないサインイン要求が送られました (%s)。アプリケーションからやり直してください。繰り返し起きる場合は、アプリケーションの管理者にお知らせください。",
		"err.proto.signout":     "アプリケーションから、fedgate が受け付けられないサインアウト要求が送られました (%s)。サインインしたままです。",
		"err.proto.expired":     "このサインイン要求は有効期限が切れています (%s)。アプリケーションからやり直してください。",
		"err.proto.replayed":    "このサインイン要求はすでに使われています (%s)。アプリケーションからやり直してください。",
		"err.proto.here":        "このアプリケーションはここからは開けません (%s)。アプリケーションから始めてください。",
		"err.proto.noid":        "お使いのアカウントには、このアプリケーションが利用者を識別する情報がありません (%s)。管理者にお知らせください。",
		"err.proto.denied":      "このアプリケーションを利用する権限がありません (%s)。",
		"err.proto.internal":    "fedgate はアプリケーションに応答できませんでした (%s)。解決しない場合は、下の参照番号を添えてヘルプデスクにお問い合わせください。",
		"err.proto.unavailable": "サインイン サービスが一時的に利用できません (%s)。しばらくしてからお試しください。",
		"err.internal":          "内部エラーが発生しました。解決しない場合は、下の参照番号を添えてヘルプデスクにお問い合わせください。",
		"err.notfound":          "ページが見つかりません。",
		"err.denied":            "アクセスが拒否されました",
		"err.denied.default":    "このアプリケーションを利用する権限がありません。",
		"err.mfa":               "このアプリケーションには多要素認証が必要ですが、ご利用のサインイン方法では利用できません。",
		"err.toolarge":          "要求が大きすぎます。",
		"err.mfa.notproven":     "多要素認証が必要ですが、サインイン サービスで確認できませんでした。もう一度お試しください。",
		"err.declined":          "サインインはサインイン サービスによって取り消されたか、拒否されました。",
		"err.rejected":          "サインイン サービスからの応答を検証できませんでした。最初からやり直してください。",
		"err.backend":           "アプリケーションが応答していません。しばらくしてからお試しください。",
		"err.signin":            "サインインが必要です。",
		"err.retry":             "やり直す",
		"out.title":             "サインアウトしました",
		"out.text":              "サインアウトしました。共用のコンピューターではブラウザーを閉じてください。",
		"out.again":             "もう一度サインイン",
		"neg.title":             "サインイン中",
		"neg.text":              "サインインを続けています…",
		"neg.continue":          "続ける",
		"err.negotiate":         "このアプリは社内ネットワークでの Windows サインインでのみ利用できますが、ここではサインインできませんでした。ヘルプデスクにお問い合わせください。",
		"logout.title":          "サインアウト",
		"logout.confirm":        "サインアウトしますか?",
		"logout.submit":         "サインアウト",
		"who.title":             "サインインしています",
		"who.app":               "アプリケーション: %s",
		"who.name":              "氏名",
		"who.username":          "ユーザー名",
		"who.email":             "メールアドレス",
		"who.upstream":          "サインイン先",
		"who.groups":            "グループ",
		"who.nogroups":          "(なし)",
		"who.method":            "認証方法",
		"who.authtime":          "サインイン日時",
		"who.expires":           "セッション終了",
		"help":                  "ヘルプ",
		"skip":                  "本文へスキップ",
		"amr.pwd":               "パスワード",
		"amr.mfa":               "多要素認証",
		"amr.otp":               "ワンタイムコード",
		"amr.kerberos":          "Windows サインイン",
	},
}

var languages = []string{"en", "ja"}

const langCookie = "fedgate_lang"

// translate returns the message for key in lang, formatted with args.
func translate(lang, key string, args ...any) string {
	msg, ok := messages[lang][key]
	if !ok {
		msg, ok = messages["en"][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// pickLanguage: an explicit ?lang= (remembered in a cookie), else the
// cookie, else the best Accept-Language match, else English.
func pickLanguage(w http.ResponseWriter, r *http.Request, secure bool) string {
	if l := r.URL.Query().Get("lang"); isLanguage(l) {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil && isLanguage(c.Value) {
		return c.Value
	}
	return fromAcceptLanguage(r.Header.Get("Accept-Language"))
}

func isLanguage(l string) bool { return l == "en" || l == "ja" }

// fromAcceptLanguage picks the supported language with the highest q value
// (RFC 9110 §12.5.4); ties go to the earlier entry.
func fromAcceptLanguage(h string) string {
	best, bestQ := "en", 0.0
	if len(h) > 512 {
		h = h[:512]
	}
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if isLanguage(base) && q > bestQ {
			best, bestQ = base, q
		}
	}
	return best
}
