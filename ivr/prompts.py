"""Prompt audio: catalog ids to the media URIs Asterisk plays, and the build of missing audio.

Asterisk plays our prompts by absolute path as it sees it (`sound:/var/lib/hotline/prompts/ja/
welcome`, no extension), so a `PromptLibrary` knows two directories: `output_dir`, where this
process writes the files (inside the sandbox chroot in development), and `asterisk_dir`, the same
place seen by Asterisk. `build()` fills in what is missing: a studio recording dropped into
`prompts/<lang>/<id>.wav` wins, otherwise the catalog text is synthesised (Open JTalk for
Japanese, espeak-ng for English; espeak-ng reads kanji as "Chinese letter"). A Japanese line with
an English phrase in it (`choose-language`: "…は1を、For English, press 2.") is rendered per script:
the Japanese runs by Open JTalk, the English phrase by espeak-ng, joined into one file, so the one
sentence meant for English speakers is English. Every file ends up as the 8 kHz mono 16-bit WAV
Asterisk plays without transcoding, and appears by atomic rename only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import shutil
import tempfile
import time
import uuid
import wave
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ivr.errors import HotlineError
from ivr.flow.catalog import LANGUAGES, Catalog

DEFAULT_ASTERISK_DIR = "/var/lib/hotline/prompts"
SAMPLE_RATE = 8000
# two cores: more parallel renders than this only make each one slower
DEFAULT_JOBS = 2

OPEN_JTALK_DICTIONARY = "/var/lib/mecab/dic/open-jtalk/naist-jdic"
OPEN_JTALK_VOICE = "/usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice"
# what to install when a tool is missing (the voice is in Debian's contrib component)
PACKAGES = {
    "open_jtalk": "open-jtalk",
    "dictionary": "open-jtalk-mecab-naist-jdic",
    "voice": "hts-voice-nitech-jp-atr503-m001 (contrib)",
    "espeak-ng": "espeak-ng",
    "sox": "sox",
}


class PromptError(HotlineError):
    """A prompt id or language is unknown, or its audio could not be made."""


class TtsUnavailable(PromptError):
    """The speech tools a build needs are not installed; the message names the packages."""


Origin = Literal["studio", "tts"]


@dataclass(frozen=True, slots=True)
class Rendered:
    prompt_id: str
    lang: str
    origin: Origin
    path: Path
    duration_s: float


@dataclass(frozen=True, slots=True)
class Failed:
    prompt_id: str
    lang: str
    reason: str


@dataclass(frozen=True, slots=True)
class BuildReport:
    rendered: tuple[Rendered, ...] = ()
    failed: tuple[Failed, ...] = ()
    # already present and up to date
    kept: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


Progress = Callable[[Rendered | Failed, int, int], None]


class TtsEngine(Protocol):
    """Makes one 8 kHz mono 16-bit WAV at `dest` (a host path that does not exist yet)."""

    def check(self, synthesize: Collection[str]) -> None:
        """Raise `TtsUnavailable` unless sox and the synthesiser of each language are there."""
        ...

    async def synthesize(self, text: str, lang: str, dest: Path) -> None: ...

    async def convert(self, source: Path, dest: Path) -> None: ...


def playable(path: Path) -> bool:
    """True if `path` is a WAV Asterisk plays as is: 8 kHz, mono, 16-bit, not empty."""
    try:
        with wave.open(str(path), "rb") as w:
            return (
                w.getframerate() == SAMPLE_RATE
                and w.getnchannels() == 1
                and w.getsampwidth() == 2
                and w.getnframes() > 0
            )
    except (OSError, EOFError, wave.Error):
        return False


def duration_s(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


# a run of Latin text: letters first, then letters, digits, spaces and ASCII punctuation
_LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9 ,.'!?;:()/-]*")
_WORD = re.compile(r"[A-Za-z]+")


def language_runs(text: str) -> list[tuple[str, str]]:
    """A Japanese line as (language, text) runs to render one by one: an English phrase (two or
    more Latin words with a space between) is "en", everything else "ja". A lone Latin token
    (an address such as suido.example.jp, a letter code) stays in the Japanese run."""
    runs: list[tuple[str, str]] = []
    pos = 0
    for match in _LATIN_RUN.finditer(text):
        phrase = match.group().strip()
        if " " not in phrase or len(_WORD.findall(phrase)) < 2:
            continue
        if text[pos : match.start()].strip():
            runs.append(("ja", text[pos : match.start()]))
        runs.append(("en", phrase))
        pos = match.end()
    if text[pos:].strip():
        runs.append(("ja", text[pos:]))
    return runs


def join_wavs(parts: Sequence[Path], dest: Path) -> None:
    """One WAV of the parts' audio in order (all 8 kHz mono 16-bit, as `_resample` makes them)."""
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        for part in parts:
            with wave.open(str(part), "rb") as w:
                if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
                    raise PromptError(f"{part.name}: not 8 kHz mono 16-bit audio")
                out.writeframes(w.readframes(w.getnframes()))


def sandbox_root(project_root: Path, env: Mapping[str, str] | None = None) -> Path:
    """The sandbox chroot `scripts/asterisk-sandbox` builds (it may not exist)."""
    env = os.environ if env is None else env
    return Path(env.get("HOTLINE_SANDBOX_DIR") or project_root / ".sandbox") / "root"


def default_output_dir(
    project_root: Path,
    configured: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Where Asterisk reads prompts from, as a host path: inside the sandbox chroot when there is
    one, else `configured` (config `prompts.output_dir`, relative to the project root), else
    the Asterisk path itself (a production host runs Asterisk without a chroot)."""
    root = sandbox_root(project_root, env)
    if root.is_dir():
        return root / DEFAULT_ASTERISK_DIR.lstrip("/")
    if configured:
        return project_root / configured
    return Path(DEFAULT_ASTERISK_DIR)


class PromptLibrary:
    """The audio side of the prompt catalog: media URIs, what is missing, and the build."""

    def __init__(
        self,
        catalog: Catalog,
        studio_dir: Path = Path("prompts"),
        output_dir: Path | None = None,
        asterisk_dir: str = DEFAULT_ASTERISK_DIR,
        *,
        tts: TtsEngine | None = None,
        jobs: int = DEFAULT_JOBS,
    ) -> None:
        self.catalog = catalog
        self.studio_dir = studio_dir
        self.output_dir = output_dir if output_dir is not None else default_output_dir(Path.cwd())
        self.asterisk_dir = asterisk_dir.rstrip("/")
        self.tts = tts
        self.jobs = max(1, jobs)

    def _check(self, prompt_id: str, lang: str) -> None:
        if lang not in LANGUAGES:
            raise PromptError(f"unknown language {lang!r} (use {' or '.join(LANGUAGES)})")
        if prompt_id not in self.catalog:
            raise PromptError(f"unknown prompt id {prompt_id!r}: not in the catalog")

    def media(self, prompt_id: str, lang: str) -> str:
        self._check(prompt_id, lang)
        return f"sound:{self.asterisk_dir}/{lang}/{prompt_id}"

    def path(self, prompt_id: str, lang: str) -> Path:
        """The host path of the built file."""
        self._check(prompt_id, lang)
        return self.output_dir / lang / f"{prompt_id}.wav"

    def studio(self, prompt_id: str, lang: str) -> Path | None:
        """The studio recording for this prompt, if one was dropped in."""
        path = self.studio_dir / lang / f"{prompt_id}.wav"
        return path if path.is_file() else None

    def missing(self, lang: str) -> list[str]:
        """Ids with no playable audio in `lang` (a file in the wrong format counts as missing)."""
        return [p for p in self.catalog if not playable(self.path(p, lang))]

    def stale(self, lang: str) -> list[str]:
        """Ids whose studio recording is newer than the built file: a new take to pick up."""
        out = []
        for prompt_id in self.catalog:
            studio = self.studio(prompt_id, lang)
            built = self.path(prompt_id, lang)
            if studio is not None and built.exists():
                if studio.stat().st_mtime > built.stat().st_mtime:
                    out.append(prompt_id)
        return out

    async def build(
        self,
        langs: Sequence[str] = LANGUAGES,
        force: bool = False,
        progress: Progress | None = None,
        ids: Iterable[str] | None = None,
    ) -> BuildReport:
        """Render what is missing or stale (everything with `force`), `jobs` at a time.

        Raises `TtsUnavailable` before rendering anything if a needed tool is missing; a prompt
        that fails to render is reported in `failed` and the others still build."""
        started = time.monotonic()
        wanted = list(self.catalog) if ids is None else list(ids)
        todo: list[tuple[str, str]] = []
        kept = 0
        for lang in langs:
            redo = set(self.stale(lang)) if not force else set()
            for prompt_id in wanted:
                self._check(prompt_id, lang)
                if force or prompt_id in redo or not playable(self.path(prompt_id, lang)):
                    todo.append((prompt_id, lang))
                else:
                    kept += 1
        if not todo:
            return BuildReport(kept=kept, elapsed_s=time.monotonic() - started)
        if self.tts is None:
            raise TtsUnavailable("no speech engine configured for the prompt build")
        tts = self.tts
        tts.check(self._voices(todo))

        results: list[Rendered | Failed] = []
        limit = asyncio.Semaphore(self.jobs)

        async def one(prompt_id: str, lang: str) -> None:
            async with limit:
                result = await self._render(tts, prompt_id, lang)
            results.append(result)
            if progress is not None:
                progress(result, len(results), len(todo))

        async with asyncio.TaskGroup() as group:
            for prompt_id, lang in todo:
                group.create_task(one(prompt_id, lang), name=f"prompt:{lang}/{prompt_id}")
        order = {job: i for i, job in enumerate(todo)}
        results.sort(key=lambda r: order[(r.prompt_id, r.lang)])
        return BuildReport(
            rendered=tuple(r for r in results if isinstance(r, Rendered)),
            failed=tuple(r for r in results if isinstance(r, Failed)),
            kept=kept,
            elapsed_s=time.monotonic() - started,
        )

    def _voices(self, todo: Iterable[tuple[str, str]]) -> set[str]:
        """The synthesisers the renders need: a Japanese line with an English phrase needs both."""
        voices: set[str] = set()
        for prompt_id, lang in todo:
            if self.studio(prompt_id, lang) is not None:
                continue
            if lang == "ja":
                voices |= {voice for voice, _ in language_runs(self.catalog.text(prompt_id, lang))}
            voices.add(lang)
        return voices

    async def _render(self, tts: TtsEngine, prompt_id: str, lang: str) -> Rendered | Failed:
        studio = self.studio(prompt_id, lang)
        if studio is not None:
            return await make_wav(
                self.path(prompt_id, lang), lang, "studio", lambda tmp: tts.convert(studio, tmp)
            )
        text = self.catalog.text(prompt_id, lang)
        return await make_wav(
            self.path(prompt_id, lang), lang, "tts", lambda tmp: tts.synthesize(text, lang, tmp)
        )


async def make_wav(
    final: Path, lang: str, origin: Origin, make: Callable[[Path], Awaitable[None]]
) -> Rendered | Failed:
    """Run `make` on a temporary name next to `final`, check the result is playable and rename
    it into place (Asterisk never sees half a file); the outcome names the file's stem."""
    name = final.stem
    # a dot name Asterisk never picks up as `<id>.wav`, in the same directory for the rename
    tmp = final.with_name(f".{name}.{uuid.uuid4().hex[:8]}.tmp.wav")
    try:
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        await make(tmp)
        if not await asyncio.to_thread(playable, tmp):
            return Failed(name, lang, f"{origin} output is not 8 kHz mono 16-bit audio")
        length = await asyncio.to_thread(duration_s, tmp)
        await asyncio.to_thread(os.replace, tmp, final)
    except (PromptError, OSError) as exc:
        return Failed(name, lang, str(exc))
    finally:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.shield(asyncio.to_thread(tmp.unlink))
    return Rendered(name, lang, origin, final, length)


class NoticeVoices:
    """The audio of admins' notices, made with the prompts' speech engine into the directory
    Asterisk reads prompts from: `<output_dir>/<lang>/<name>.wav`, played as
    `sound:<asterisk_dir>/<lang>/<name>` like any prompt (`name` is ``notice-<id>``).

    A Japanese text with English phrases in it is rendered per script, as prompts are. A blank
    text in a language is spoken with the Japanese audio (a copy), so every caller hears the
    notice. The speech tools run as subprocesses (`CommandTts`): rendering never blocks the
    event loop."""

    def __init__(
        self,
        output_dir: Path,
        tts: TtsEngine | None,
        asterisk_dir: str = DEFAULT_ASTERISK_DIR,
    ) -> None:
        self.output_dir = output_dir
        self.tts = tts
        self.asterisk_dir = asterisk_dir.rstrip("/")

    def path(self, name: str, lang: str) -> Path:
        return self.output_dir / lang / f"{name}.wav"

    def media(self, name: str, lang: str) -> str:
        return f"sound:{self.asterisk_dir}/{lang}/{name}"

    async def render(self, name: str, texts: Mapping[str, str]) -> dict[str, Rendered | Failed]:
        """Render `texts` (language → text; Japanese first, it is the others' fallback)."""
        spoken = {lang: text for lang, text in texts.items() if text.strip()}
        if "ja" not in spoken:
            return {lang: Failed(name, lang, "no Japanese text to speak") for lang in texts}
        tts = self.tts
        try:
            if tts is None:
                raise TtsUnavailable("no speech engine configured for notices")
            voices = {voice for voice, _ in language_runs(spoken["ja"])} | set(spoken)
            tts.check(voices)
        except TtsUnavailable as exc:
            return {lang: Failed(name, lang, str(exc)) for lang in texts}
        out: dict[str, Rendered | Failed] = {}
        for lang, text in spoken.items():
            speak = functools.partial(tts.synthesize, text, lang)
            out[lang] = await make_wav(self.path(name, lang), lang, "tts", speak)
        for lang in texts:
            if lang not in spoken:
                out[lang] = await self._copy_of_ja(name, lang, out["ja"])
        return out

    async def _copy_of_ja(self, name: str, lang: str, ja: Rendered | Failed) -> Rendered | Failed:
        if isinstance(ja, Failed):
            return Failed(name, lang, f"no text; the Japanese audio failed: {ja.reason}")
        source = ja.path

        async def copy(tmp: Path) -> None:
            await asyncio.to_thread(shutil.copyfile, source, tmp)

        return await make_wav(self.path(name, lang), lang, "tts", copy)

    async def remove(self, name: str, langs: Iterable[str] = LANGUAGES) -> None:
        """Delete a notice's files (an ended notice is never played again)."""
        for lang in langs:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(self.path(name, lang).unlink)


@dataclass
class CommandTts:
    """The real engine: Open JTalk, espeak-ng and sox, run inside the sandbox chroot `root`
    (`chroot root ...`, paths as seen inside it), or straight from the host PATH when `root`
    is None (a production machine)."""

    root: Path | None = None
    dictionary: str = OPEN_JTALK_DICTIONARY
    voice: str = OPEN_JTALK_VOICE
    espeak_voice: str = "en"
    # Open JTalk takes about 0.25 s for a sentence; a hung tool must not hang the build
    render_timeout_s: float = 60.0

    def _exists(self, path: str) -> bool:
        return self._host(path).exists()

    def _host(self, path: str) -> Path:
        return self.root / path.lstrip("/") if self.root is not None else Path(path)

    def _tool(self, name: str) -> bool:
        if self.root is None:
            return shutil.which(name) is not None
        search = os.pathsep.join(str(self.root / d) for d in ("usr/bin", "bin", "usr/local/bin"))
        return shutil.which(name, path=search) is not None

    def check(self, synthesize: Collection[str]) -> None:
        where = f"in the sandbox chroot {self.root}" if self.root is not None else "on this host"
        missing: list[str] = []
        if not self._tool("sox"):
            missing.append("sox")
        if "ja" in synthesize:
            if not self._tool("open_jtalk"):
                missing.append("open_jtalk")
            if not self._exists(self.dictionary):
                missing.append("dictionary")
            if not self._exists(self.voice):
                missing.append("voice")
        if "en" in synthesize and not self._tool("espeak-ng"):
            missing.append("espeak-ng")
        if missing:
            packages = ", ".join(PACKAGES[m] for m in missing)
            raise TtsUnavailable(
                f"prompt build: missing speech tools {where}: install the Debian packages "
                f"{packages} (apt-get install; the voice needs the contrib component)"
            )
        if self.root is not None and os.geteuid() != 0:
            raise TtsUnavailable(f"prompt build: running the tools in {self.root} needs root")

    def _argv(self, *args: str) -> list[str]:
        if self.root is None:
            return list(args)
        return [shutil.which("chroot") or "/usr/sbin/chroot", str(self.root), *args]

    def _scratch(self) -> tuple[Path, str]:
        """A private work directory: (host path, the same path as the tools see it)."""
        if self.root is None:
            host = Path(tempfile.mkdtemp(prefix="hotline-tts-"))
            return host, str(host)
        base = self.root / "tmp"
        base.mkdir(exist_ok=True)
        host = Path(tempfile.mkdtemp(prefix="hotline-tts-", dir=base))
        return host, "/" + host.relative_to(self.root).as_posix()

    async def _run(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self._argv(*args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(self.render_timeout_s):
                _, err = await proc.communicate()
        except BaseException:
            # timed out or cancelled: never leave a renderer running behind us
            if proc.returncode is None:
                proc.kill()
                await asyncio.shield(proc.wait())
            raise
        if proc.returncode != 0:
            tail = err.decode("utf-8", "replace").strip()[-300:]
            raise PromptError(f"{args[0]} failed (exit {proc.returncode}): {tail}")

    async def _resample(self, source: str, scratch: str, host_scratch: Path, dest: Path) -> None:
        # -D: no dither, so the same text always renders the same samples (a joined line is
        # exactly its parts; a rebuild changes nothing)
        await self._run(
            "sox", "-D", source,
            "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
            f"{scratch}/out.wav",
        )  # fmt: skip
        await asyncio.to_thread(shutil.copyfile, host_scratch / "out.wav", dest)

    async def synthesize(self, text: str, lang: str, dest: Path) -> None:
        if lang not in ("ja", "en"):
            raise PromptError(f"no speech engine for language {lang!r}")
        runs = language_runs(text) if lang == "ja" else [("en", text)]
        host, inside = await asyncio.to_thread(self._scratch)
        try:
            parts = []
            for n, (voice, words) in enumerate(runs or [(lang, text)]):
                part = host / f"part{n}.wav"
                await self._voice(voice, words, host, inside, part)
                parts.append(part)
            if len(parts) == 1:
                await asyncio.to_thread(shutil.copyfile, parts[0], dest)
            else:
                await asyncio.to_thread(join_wavs, parts, dest)
        finally:
            await asyncio.shield(asyncio.to_thread(shutil.rmtree, host, True))

    async def _voice(self, lang: str, text: str, host: Path, inside: str, dest: Path) -> None:
        """One run of text in one voice, as 8 kHz mono 16-bit audio at `dest` (in the scratch)."""
        # Open JTalk reads its text from a file, and only UTF-8 (per its dictionary)
        await asyncio.to_thread((host / "text.txt").write_text, text + "\n", "utf-8")
        if lang == "ja":
            await self._run(
                "open_jtalk", "-x", self.dictionary, "-m", self.voice,
                "-ow", f"{inside}/raw.wav", f"{inside}/text.txt",
            )  # fmt: skip
        else:
            await self._run(
                "espeak-ng", "-v", self.espeak_voice, "-b", "1",
                "-f", f"{inside}/text.txt", "-w", f"{inside}/raw.wav",
            )  # fmt: skip
        await self._resample(f"{inside}/raw.wav", inside, host, dest)

    async def convert(self, source: Path, dest: Path) -> None:
        host, inside = await asyncio.to_thread(self._scratch)
        try:
            # the recording may live outside the chroot: copy it where sox can see it
            await asyncio.to_thread(shutil.copyfile, source, host / "studio.wav")
            await self._resample(f"{inside}/studio.wav", inside, host, dest)
        finally:
            await asyncio.shield(asyncio.to_thread(shutil.rmtree, host, True))


def default_tts(project_root: Path, env: Mapping[str, str] | None = None) -> CommandTts:
    """The sandbox chroot's tools when the sandbox exists, else the host's."""
    root = sandbox_root(project_root, env)
    return CommandTts(root=root if (root / "usr" / "bin").is_dir() else None)


def _conforms(engine: CommandTts) -> TtsEngine:
    # mypy checks here that the real engine keeps the port's shape
    return engine
