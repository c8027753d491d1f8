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
		"lang.name":                    "English",
		"signin.title":                 "Sign in",
		"signin.to":                    "to continue to %s",
		"signin.username":              "User name or email",
		"signin.password":              "Password",
		"signin.submit":                "Sign in",
		"signin.other":                 "Other ways to sign in",
		"signin.with":                  "Sign in with %s",
		"chooser.title":                "Choose how to sign in",
		"chooser.email":                "Work email",
		"chooser.continue":             "Continue",
		"chooser.unavailable":          "currently unavailable",
		"err.credentials":              "The user name or password is incorrect.",
		"err.disabled":                 "The user name or password is incorrect.",
		"err.throttled":                "Too many failed attempts. Try again in %d seconds.",
		"err.title":                    "Something went wrong",
		"err.correlation":              "Reference",
		"err.badrequest":               "The request was not valid. Please start again from the application.",
		"err.csrf":                     "This form has expired or was not sent from this site. Please try again.",
		"err.expired":                  "Your sign-in took too long or was started in another browser. Please start again.",
		"err.unknownupstream":          "That sign-in method is not available.",
		"err.nodomain":                 "No sign-in method is configured for that email domain.",
		"err.foreigndomain":            "This account cannot sign in here: its user name or email is in a domain another sign-in method is responsible for. Sign in with that one instead.",
		"err.unavailable":              "The sign-in service is temporarily unavailable. Please try again later.",
		"err.proto.request":            "The application sent a sign-in request that fedgate cannot accept (%s). Please start again from the application; if it keeps happening, tell its administrator.",
		"err.proto.signout":            "The application sent a sign-out request that fedgate cannot accept (%s). You are still signed in.",
		"err.proto.expired":            "This sign-in request has expired (%s). Please start again from the application.",
		"err.proto.replayed":           "This sign-in request was already used (%s). Please start again from the application.",
		"err.proto.here":               "This application cannot be opened from here (%s). Please start from the application.",
		"err.proto.noid":               "Your account lacks the identifier this application knows users by (%s). Please tell your administrator.",
		"err.proto.denied":             "You are not allowed to use this application (%s).",
		"err.proto.internal":           "fedgate could not answer the application (%s). If it persists, contact your help desk with the reference below.",
		"err.proto.unavailable":        "The sign-in service is temporarily unavailable (%s). Please try again later.",
		"err.internal":                 "An internal error occurred. If it persists, contact your help desk with the reference below.",
		"err.notfound":                 "The page was not found.",
		"err.denied":                   "Access denied",
		"err.denied.default":           "You are not allowed to use this application.",
		"err.mfa":                      "This application requires multi-factor authentication, which is not available for your sign-in method.",
		"err.toolarge":                 "The request was too large.",
		"err.mfa.notproven":            "Multi-factor authentication was required, but the sign-in service did not confirm it. Please try again.",
		"err.mfa.enrol":                "This application requires a second factor, and you have none that fedgate can check. %s",
		"err.mfa.notfresh":             "To set up a second factor, sign out and sign in again with your password first; it must be done within a few minutes of signing in. %s",
		"err.mfa.wrong":                "That code is not valid. Check the code in your app and try again.",
		"err.mfa.hasfactor":            "You already have a second factor. To set up another one or replace it, confirm the one you have first, or ask for a reset. %s",
		"err.mfa.used":                 "This code was already used. Wait for the next code in your app and enter that one.",
		"mfa.contact.default":          "Please contact your help desk.",
		"mfa.choose":                   "Choose how to confirm it is you",
		"mfa.method.otp":               "Authenticator app code",
		"mfa.method.recovery":          "Recovery code",
		"mfa.verify":                   "Verify",
		"mfa.codes.title":              "Your recovery codes",
		"mfa.codes.intro":              "Keep these codes somewhere safe. Each one works once, if you lose your authenticator. They are shown only now.",
		"mfa.codes.continue":           "I have saved them — continue",
		"totp.title":                   "Enter your one-time code",
		"totp.intro":                   "Open your authenticator app and enter the 6-digit code for this account.",
		"totp.code":                    "6-digit code",
		"totp.enrol.title":             "Set up an authenticator app",
		"totp.enrol.scan":              "Scan this QR code with your authenticator app.",
		"totp.enrol.qralt":             "QR code for your authenticator app",
		"totp.enrol.manual":            "Or enter this key by hand (time-based, 6 digits):",
		"totp.enrol.account":           "account",
		"totp.enrol.confirm":           "Enter the code the app shows, to confirm.",
		"totp.enrol.submit":            "Confirm",
		"recovery.title":               "Enter a recovery code",
		"recovery.intro":               "Enter one of the recovery codes you saved when you set up your authenticator. Each code works once.",
		"recovery.code":                "Recovery code",
		"err.declined":                 "The sign-in was cancelled or refused by the sign-in service.",
		"err.rejected":                 "The answer from the sign-in service could not be verified. Please start again.",
		"err.backend":                  "The application is not responding. Please try again later.",
		"err.timeout":                  "The request did not arrive in time. Please try again.",
		"err.signin":                   "Sign-in required.",
		"err.retry":                    "Start again",
		"out.title":                    "Signed out",
		"out.text":                     "You have signed out. Close the browser to be safe on a shared computer.",
		"out.again":                    "Sign in again",
		"neg.title":                    "Signing in",
		"neg.text":                     "Continuing to sign in…",
		"neg.continue":                 "Continue",
		"err.negotiate":                "This app signs you in with Windows, on the company network only, and that did not work here. Contact your help desk.",
		"logout.title":                 "Sign out",
		"logout.confirm":               "Do you want to sign out?",
		"logout.submit":                "Sign out",
		"who.title":                    "You are signed in",
		"who.app":                      "Application: %s",
		"who.name":                     "Name",
		"who.username":                 "User name",
		"who.email":                    "Email",
		"who.upstream":                 "Signed in with",
		"who.groups":                   "Groups",
		"who.nogroups":                 "(none)",
		"who.method":                   "Method",
		"who.authtime":                 "Signed in at",
		"who.expires":                  "Session ends",
		"help":                         "Help",
		"skip":                         "Skip to main content",
		"amr.pwd":                      "password",
		"amr.mfa":                      "multi-factor",
		"amr.otp":                      "one-time code",
		"amr.kerberos":                 "Windows sign-in",
		"amr.hwk":                      "security key",
		"amr.swk":                      "passkey",
		"amr.sc":                       "certificate",
		"mfa.method.cert":              "Certificate on this device",
		"cert.err.refused":             "No certificate naming you was presented. Use a device that has your certificate, or another way to confirm.",
		"mfa.method.webauthn":          "Security key or passkey",
		"hwk.register.title":           "Security keys and passkeys",
		"hwk.register.intro":           "Register a FIDO2 security key or a passkey as your second factor. Give it a name you will recognise.",
		"hwk.yours":                    "Your keys",
		"hwk.name":                     "Name of the new key",
		"hwk.register.submit":          "Register a key",
		"hwk.verify.title":             "Confirm with your security key",
		"hwk.verify.intro":             "This application needs a second factor. Use one of your registered security keys or passkeys.",
		"hwk.verify.submit":            "Use my security key",
		"hwk.err.webauthn-name":        "Give the key a name of at most 64 characters.",
		"hwk.err.webauthn-name-taken":  "You already have a key of that name.",
		"hwk.err.webauthn-too-many":    "You have registered as many keys as allowed. Remove one first.",
		"hwk.err.webauthn-state":       "This request has expired or was started elsewhere. Please start again.",
		"hwk.err.webauthn-invalid":     "The security key's answer could not be verified. Please try again.",
		"hwk.err.webauthn-rp-id":       "The security key answered for another site. Use it only on this page.",
		"hwk.err.webauthn-counter":     "This security key's use counter went backwards: it may have been copied. Contact your help desk.",
		"hwk.err.webauthn-unknown-key": "That key is not registered for your account.",
		"hwk.err.webauthn-aaguid":      "This kind of authenticator is not allowed here.",
		"hwk.err.webauthn-no-keys":     "You have no security key registered.",
	},
	"ja": {
		"lang.name":                    "日本語",
		"signin.title":                 "サインイン",
		"signin.to":                    "%s を続行するには",
		"signin.username":              "ユーザー名またはメールアドレス",
		"signin.password":              "パスワード",
		"signin.submit":                "サインイン",
		"signin.other":                 "その他のサインイン方法",
		"signin.with":                  "%s でサインイン",
		"chooser.title":                "サインイン方法を選択",
		"chooser.email":                "会社のメールアドレス",
		"chooser.continue":             "次へ",
		"chooser.unavailable":          "現在利用できません",
		"err.credentials":              "ユーザー名またはパスワードが正しくありません。",
		"err.disabled":                 "ユーザー名またはパスワードが正しくありません。",
		"err.throttled":                "失敗回数が多すぎます。%d 秒後にもう一度お試しください。",
		"err.title":                    "エラーが発生しました",
		"err.correlation":              "参照番号",
		"err.badrequest":               "要求が正しくありません。アプリケーションからやり直してください。",
		"err.csrf":                     "このフォームは有効期限切れか、このサイト以外から送信されました。もう一度お試しください。",
		"err.expired":                  "サインインに時間がかかりすぎたか、別のブラウザーで開始されました。最初からやり直してください。",
		"err.unknownupstream":          "そのサインイン方法は利用できません。",
		"err.nodomain":                 "そのメールドメインにはサインイン方法が設定されていません。",
		"err.foreigndomain":            "このアカウントではここにサインインできません。ユーザー名またはメールアドレスのドメインは、別のサインイン方法が管理しています。そちらでサインインしてください。",
		"err.unavailable":              "サインイン サービスが一時的に利用できません。しばらくしてからお試しください。",
		"err.proto.request":            "アプリケーションから、fedgate が受け付けられないサインイン要求が送られました (%s)。アプリケーションからやり直してください。繰り返し起きる場合は、アプリケーションの管理者にお知らせください。",
		"err.proto.signout":            "アプリケーションから、fedgate が受け付けられないサインアウト要求が送られました (%s)。サインインしたままです。",
		"err.proto.expired":            "このサインイン要求は有効期限が切れています (%s)。アプリケーションからやり直してください。",
		"err.proto.replayed":           "このサインイン要求はすでに使われています (%s)。アプリケーションからやり直してください。",
		"err.proto.here":               "このアプリケーションはここからは開けません (%s)。アプリケーションから始めてください。",
		"err.proto.noid":               "お使いのアカウントには、このアプリケーションが利用者を識別する情報がありません (%s)。管理者にお知らせください。",
		"err.proto.denied":             "このアプリケーションを利用する権限がありません (%s)。",
		"err.proto.internal":           "fedgate はアプリケーションに応答できませんでした (%s)。解決しない場合は、下の参照番号を添えてヘルプデスクにお問い合わせください。",
		"err.proto.unavailable":        "サインイン サービスが一時的に利用できません (%s)。しばらくしてからお試しください。",
		"err.internal":                 "内部エラーが発生しました。解決しない場合は、下の参照番号を添えてヘルプデスクにお問い合わせください。",
		"err.notfound":                 "ページが見つかりません。",
		"err.denied":                   "アクセスが拒否されました",
		"err.denied.default":           "このアプリケーションを利用する権限がありません。",
		"err.mfa":                      "このアプリケーションには多要素認証が必要ですが、ご利用のサインイン方法では利用できません。",
		"err.toolarge":                 "要求が大きすぎます。",
		"err.mfa.notproven":            "多要素認証が必要ですが、サインイン サービスで確認できませんでした。もう一度お試しください。",
		"err.mfa.enrol":                "このアプリケーションには第 2 要素が必要ですが、fedgate で確認できる要素が登録されていません。%s",
		"err.mfa.notfresh":             "第 2 要素を登録するには、いったんサインアウトしてパスワードで再度サインインしてください。登録はサインインから数分以内に行う必要があります。%s",
		"err.mfa.wrong":                "コードが正しくありません。アプリに表示されたコードを確認して、もう一度入力してください。",
		"err.mfa.hasfactor":            "第 2 要素はすでに登録されています。別の要素を追加・変更するには、まず登録済みの要素で確認するか、リセットを依頼してください。%s",
		"err.mfa.used":                 "このコードは使用済みです。アプリに次のコードが表示されるまで待ってから入力してください。",
		"mfa.contact.default":          "ヘルプデスクにお問い合わせください。",
		"mfa.choose":                   "本人確認の方法を選んでください",
		"mfa.method.otp":               "認証アプリのコード",
		"mfa.method.recovery":          "リカバリー コード",
		"mfa.verify":                   "確認",
		"mfa.codes.title":              "リカバリー コード",
		"mfa.codes.intro":              "これらのコードを安全な場所に保管してください。認証アプリを紛失したとき、各コードを 1 回だけ使えます。表示されるのは今回だけです。",
		"mfa.codes.continue":           "保管しました — 続行",
		"totp.title":                   "ワンタイム コードを入力",
		"totp.intro":                   "認証アプリを開き、このアカウントの 6 桁のコードを入力してください。",
		"totp.code":                    "6 桁のコード",
		"totp.enrol.title":             "認証アプリの設定",
		"totp.enrol.scan":              "認証アプリでこの QR コードを読み取ってください。",
		"totp.enrol.qralt":             "認証アプリ用の QR コード",
		"totp.enrol.manual":            "または、このキーを手入力してください（時間ベース、6 桁）：",
		"totp.enrol.account":           "アカウント",
		"totp.enrol.confirm":           "確認のため、アプリに表示されたコードを入力してください。",
		"totp.enrol.submit":            "確認",
		"recovery.title":               "リカバリー コードを入力",
		"recovery.intro":               "認証アプリの設定時に保管したリカバリー コードを 1 つ入力してください。各コードは 1 回だけ使えます。",
		"recovery.code":                "リカバリー コード",
		"err.declined":                 "サインインはサインイン サービスによって取り消されたか、拒否されました。",
		"err.rejected":                 "サインイン サービスからの応答を検証できませんでした。最初からやり直してください。",
		"err.backend":                  "アプリケーションが応答していません。しばらくしてからお試しください。",
		"err.timeout":                  "要求が時間内に届きませんでした。もう一度お試しください。",
		"err.signin":                   "サインインが必要です。",
		"err.retry":                    "やり直す",
		"out.title":                    "サインアウトしました",
		"out.text":                     "サインアウトしました。共用のコンピューターではブラウザーを閉じてください。",
		"out.again":                    "もう一度サインイン",
		"neg.title":                    "サインイン中",
		"neg.text":                     "サインインを続けています…",
		"neg.continue":                 "続ける",
		"err.negotiate":                "このアプリは社内ネットワークでの Windows サインインでのみ利用できますが、ここではサインインできませんでした。ヘルプデスクにお問い合わせください。",
		"logout.title":                 "サインアウト",
		"logout.confirm":               "サインアウトしますか?",
		"logout.submit":                "サインアウト",
		"who.title":                    "サインインしています",
		"who.app":                      "アプリケーション: %s",
		"who.name":                     "氏名",
		"who.username":                 "ユーザー名",
		"who.email":                    "メールアドレス",
		"who.upstream":                 "サインイン先",
		"who.groups":                   "グループ",
		"who.nogroups":                 "(なし)",
		"who.method":                   "認証方法",
		"who.authtime":                 "サインイン日時",
		"who.expires":                  "セッション終了",
		"help":                         "ヘルプ",
		"skip":                         "本文へスキップ",
		"amr.pwd":                      "パスワード",
		"amr.mfa":                      "多要素認証",
		"amr.otp":                      "ワンタイムコード",
		"amr.kerberos":                 "Windows サインイン",
		"amr.hwk":                      "セキュリティキー",
		"amr.swk":                      "パスキー",
		"amr.sc":                       "証明書",
		"mfa.method.cert":              "このデバイスの証明書",
		"cert.err.refused":             "あなたの名前の証明書が提示されませんでした。証明書のあるデバイスを使うか、別の方法で確認してください。",
		"mfa.method.webauthn":          "セキュリティキーまたはパスキー",
		"hwk.register.title":           "セキュリティキーとパスキー",
		"hwk.register.intro":           "FIDO2 セキュリティキーまたはパスキーを 2 要素目として登録します。見分けがつく名前を付けてください。",
		"hwk.yours":                    "登録済みのキー",
		"hwk.name":                     "新しいキーの名前",
		"hwk.register.submit":          "キーを登録",
		"hwk.verify.title":             "セキュリティキーで確認",
		"hwk.verify.intro":             "このアプリケーションには 2 要素目が必要です。登録済みのセキュリティキーまたはパスキーを使ってください。",
		"hwk.verify.submit":            "セキュリティキーを使う",
		"hwk.err.webauthn-name":        "キーに 64 文字以内の名前を付けてください。",
		"hwk.err.webauthn-name-taken":  "同じ名前のキーがすでにあります。",
		"hwk.err.webauthn-too-many":    "登録できるキーの数の上限です。先にどれかを削除してください。",
		"hwk.err.webauthn-state":       "この要求は期限切れか、別の場所で開始されました。最初からやり直してください。",
		"hwk.err.webauthn-invalid":     "セキュリティキーの応答を検証できませんでした。もう一度お試しください。",
		"hwk.err.webauthn-rp-id":       "セキュリティキーが別のサイト向けに応答しました。このページでのみ使ってください。",
		"hwk.err.webauthn-counter":     "このセキュリティキーの使用回数が戻りました。複製された可能性があります。ヘルプデスクに連絡してください。",
		"hwk.err.webauthn-unknown-key": "そのキーはあなたのアカウントに登録されていません。",
		"hwk.err.webauthn-aaguid":      "この種類の認証器はここでは使えません。",
		"hwk.err.webauthn-no-keys":     "登録済みのセキュリティキーがありません。",
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
