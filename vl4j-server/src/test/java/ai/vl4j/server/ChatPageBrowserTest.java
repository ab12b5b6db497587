package ai.vl4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.vl4j.Fixtures;
import ai.vl4j.sam.Rle;
import ai.vl4j.sam.Sam;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.Rectangle;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web chat page in headless Chromium (Debian's chromium + chromium-driver; .ci/run installs them): attach a
 * fixture image, send a prompt, watch the answer stream in, get the fixture's greedy answer, then stop a long
 * answer mid-stream; and the segmentation view on the tiny SAM fixture. Screenshots are left in target/ for people
 * to look at.
 */
class ChatPageBrowserTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    /** Headless Chromium with a throw-away profile, driven by the chromedriver on disk (never one Selenium fetches). */
    static WebDriver browser(Path profile) {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)");
        System.setProperty("webdriver.chrome.driver", CHROMEDRIVER.toString());
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1200,900", "--user-data-dir=" + profile.resolve("chrome"));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        return new ChromeDriver(service, options);
    }

    /** A server with an API key: the page asks for it, sends it, and its max tokens start at the server's default. */
    @Test
    void withAnApiKey(@TempDir Path profile) throws Exception {
        WebDriver driver = browser(profile);
        try (TestServer server = new TestServer(TestServer.config().withApiKey("page-key").withDefaultMaxTokens(3))) {
            driver.get(server.server.url());
            WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
            wait.until(d -> d.findElement(By.id("apikey")).isDisplayed());
            assertEquals("3", driver.findElement(By.id("max_tokens")).getDomProperty("value"));
            assertTrue(driver.findElement(By.id("model")).getText().isEmpty(), "/v1/models needs the key");
            setValue(driver, "apikey", "page-key");
            driver.findElement(By.id("system")).click();                  // leaving the field saves the key
            wait.until(d -> !d.findElement(By.id("model")).getText().isEmpty());
            driver.findElement(By.id("prompt")).sendKeys("Hello");
            driver.findElement(By.id("send")).click();
            wait.until(d -> !d.findElements(By.cssSelector(".msg.assistant.done")).isEmpty());
            assertTrue(driver.findElements(By.cssSelector(".msg.error")).isEmpty(), "no error shown");
            assertTrue(driver.findElement(By.id("status")).getText().contains("finished: length"));
        } finally {
            driver.quit();
        }
    }

    @Test
    void uploadAnImageSendAPromptSeeTheAnswerStreamAndStopOne(@TempDir Path profile) throws Exception {
        ServerGoldenTest.Case golden = ServerGoldenTest.goldenCase("dog_a__en");
        try (TestServer server = new TestServer()) {
            WebDriver driver = browser(profile);
            try {
                driver.get(server.server.url());
                WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
                wait.until(d -> !d.findElement(By.id("model")).getText().isEmpty());
                assertEquals("tiny-dsvl-1.3b", driver.findElement(By.id("model")).getText());

                // count DOM updates of the answer, to see it arrive in pieces
                ((JavascriptExecutor) driver).executeScript("window.updates = 0; new MutationObserver(() => window.updates++)"
                        + ".observe(document.getElementById('messages'), {childList: true, subtree: true, characterData: true});");
                setValue(driver, "max_tokens", "24");
                driver.findElement(By.id("file")).sendKeys(TestServer.IMAGES.resolve("dog_a.png").toRealPath().toString());
                wait.until(d -> !d.findElements(By.cssSelector("#attachments img")).isEmpty());
                driver.findElement(By.id("prompt")).sendKeys("Describe this image.");
                driver.findElement(By.id("send")).click();
                wait.until(d -> !d.findElements(By.cssSelector(".msg.assistant.done")).isEmpty());
                WebElement answer = driver.findElement(By.cssSelector(".msg.assistant .text"));
                assertEquals(golden.expectedText(), answer.getDomProperty("textContent"), "the page shows the greedy answer");
                long updates = ((Number) ((JavascriptExecutor) driver).executeScript("return window.updates")).longValue();
                assertTrue(updates > 5, "the answer arrived in pieces: " + updates + " DOM updates");
                assertTrue(driver.findElement(By.id("status")).getText().contains("finished: length"));
                assertEquals(1, driver.findElements(By.cssSelector(".msg.user img")).size(), "the user's image is shown");

                // a second turn, long: text appears while it runs, and Stop ends it
                setValue(driver, "max_tokens", "15000");
                driver.findElement(By.id("prompt")).sendKeys("Tell me more.");
                driver.findElement(By.id("send")).click();
                wait.until(d -> {
                    List<WebElement> answers = d.findElements(By.cssSelector(".msg.assistant .text"));
                    return answers.size() == 2 && answers.get(1).getDomProperty("textContent").length() > 20;
                });
                assertTrue(driver.findElement(By.id("stop")).isEnabled(), "still generating");
                File shot = ((ChromeDriver) driver).getScreenshotAs(OutputType.FILE);
                Path target = Path.of("target", "chat-page.png");
                Files.copy(shot.toPath(), target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                driver.findElement(By.id("stop")).click();
                wait.until(d -> d.findElement(By.id("status")).getText().equals("stopped"));
                assertTrue(driver.findElement(By.id("send")).isEnabled());
                ServerSchedulingTest.waitFor(() -> ServerSchedulingTest.gauge(server, "vl4j_requests_cancelled_total") == 1,
                        "the server to drop the stopped answer");
                assertTrue(Files.size(target) > 10_000, "screenshot saved");
            } finally {
                driver.quit();
            }
        }
    }

    /**
     * The segmentation view on the sam-tiny fixture, with an API key: open an image, click a point (the request
     * carries it in image pixels), see the masks drawn exactly as the answer's RLE says with their IoUs; a
     * background point sends the chosen mask back as mask_input; another of the three masks can be chosen; Undo;
     * "Everything" draws the automatic generator's masks in distinct colours.
     */
    @Test
    void segmentationViewClickAPointSeeTheMasks(@TempDir Path profile) throws Exception {
        Path image = Fixtures.SAM_TINY.resolve("images/dog_150x97.png");
        JsonNode point = Fixtures.json(Fixtures.SAM_TINY.resolve("expected/cases.json")).get("images").get("dog_150x97")
                .get("cases").get("point_fg.multi").get("points").get(0);
        int px = (int) Math.floor(point.get(0).asDouble());
        int py = (int) Math.floor(point.get(1).asDouble());
        try (Sam sam = Sam.load(Fixtures.SAM_TINY.resolve("model"));
             TestServer server = new TestServer(TestServer.config().withApiKey("seg-key"), sam, "sam-tiny")) {
            WebDriver driver = browser(profile);
            JavascriptExecutor js = (JavascriptExecutor) driver;
            try {
                driver.get(server.server.url());
                WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(60));
                wait.until(d -> d.findElement(By.id("tab-seg")).isDisplayed());
                driver.findElement(By.id("tab-seg")).click();
                assertEquals("sam-tiny", driver.findElement(By.id("sammodel")).getText());
                assertTrue(driver.findElement(By.id("apikey")).isDisplayed(), "the key box stays in the segmentation view");
                setValue(driver, "apikey", "seg-key");
                // every /v1/segment request and its answer, as the page sent and got them
                js.executeScript("window.segLog = []; const f = window.fetch; window.fetch = async (url, options) => {"
                        + " const r = await f(url, options); if (String(url).endsWith('/v1/segment')) segLog.push({request:"
                        + " JSON.parse(options.body), key: options.headers.Authorization, status: r.status, answer: await r.clone().json()});"
                        + " return r; };");
                driver.findElement(By.id("segfile")).sendKeys(image.toRealPath().toString());
                wait.until(d -> ((Number) js.executeScript("return document.getElementById('segmask').width")).intValue() == 97);

                // a point on the object: the request has it in image pixels, the page draws the best mask
                click(driver, px, py, false);
                JsonNode first = segRequest(driver, wait, 1);
                assertEquals("Bearer seg-key", first.get("key").asText());
                assertEquals(200, first.get("status").asInt(), first.toString());
                JsonNode sent = first.get("request");
                assertEquals("[[" + px + "," + py + "]]", sent.get("points").toString(), "the clicked pixel");
                assertEquals("[1]", sent.get("labels").toString());
                assertTrue(sent.get("return_mask_input").asBoolean() && sent.get("multimask_output").asBoolean());
                assertFalse(sent.has("mask_input"), "nothing to refine yet");
                JsonNode masks = first.get("answer").get("masks");
                assertEquals(3, masks.size());
                wait.until(d -> d.findElements(By.cssSelector("#masklist .iou")).size() == 3);
                List<WebElement> ious = driver.findElements(By.cssSelector("#masklist .iou"));
                int best = 0;
                for (int k = 0; k < 3; k++) {
                    double iou = masks.get(k).get("predicted_iou").asDouble();
                    assertEquals("IoU " + new BigDecimal(iou).setScale(3, RoundingMode.HALF_UP), ious.get(k).getText());
                    best = iou > masks.get(best).get("predicted_iou").asDouble() ? k : best;
                }
                assertEquals(drawn(masks.get(best)), canvasPixels(driver), "the best mask is drawn, pixel for pixel");

                // a background point: both points go, with the chosen mask's low-res logits to refine from
                click(driver, 3, 4, true);
                JsonNode second = segRequest(driver, wait, 2);
                assertEquals("[[" + px + "," + py + "],[3,4]]", second.get("request").get("points").toString());
                assertEquals("[1,0]", second.get("request").get("labels").toString());
                assertEquals(masks.get(best).get("mask_input").asText(), second.get("request").get("mask_input").asText());
                JsonNode refined = second.get("answer").get("masks");
                int other = refined.get(0).get("predicted_iou").asDouble() >= refined.get(1).get("predicted_iou").asDouble()
                        && refined.get(0).get("predicted_iou").asDouble() >= refined.get(2).get("predicted_iou").asDouble() ? 1 : 0;
                wait.until(d -> d.findElements(By.cssSelector("#masklist button")).size() == 3
                        && !d.findElements(By.cssSelector("#masklist button")).get(other).getDomAttribute("class").contains("on"));
                driver.findElements(By.cssSelector("#masklist button")).get(other).click();
                assertEquals(drawn(refined.get(other)), canvasPixels(driver), "the chosen mask is drawn");
                driver.findElement(By.id("undo")).click();
                assertEquals(drawn(masks.get(best)), canvasPixels(driver), "Undo shows the one-point answer again");
                screenshot(driver, "segment-point.png");

                // a dragged box joins the point (a new box starts afresh: no mask_input)
                drag(driver, 20, 30, 70, 100);
                JsonNode boxed = segRequest(driver, wait, 3);
                assertEquals("[20,30,70,100]", boxed.get("request").get("box").toString(), "the box's corner pixels");
                assertEquals("[[" + px + "," + py + "]]", boxed.get("request").get("points").toString());
                assertFalse(boxed.get("request").has("mask_input"));
                wait.until(d -> d.findElement(By.id("segstatus")).getText().startsWith("3 masks"));

                // everything: the automatic generator's masks, all drawn, in distinct colours
                setValue(driver, "points_per_side", "4");
                setValue(driver, "pred_iou_thresh", "-10");
                setValue(driver, "stability_score_thresh", "0");
                setValue(driver, "box_nms_thresh", "1");
                driver.findElement(By.id("everything")).click();
                JsonNode auto = segRequest(driver, wait, 4);
                assertTrue(auto.get("request").get("auto").asBoolean());
                assertEquals(4, auto.get("request").get("points_per_side").asInt());
                JsonNode all = auto.get("answer").get("masks");
                assertTrue(all.size() >= 2, "the generator kept several masks: " + all.size());
                wait.until(d -> d.findElements(By.cssSelector("#masklist .swatch")).size() == all.size());
                String union = drawn(all.get(0));
                for (JsonNode m : all) {
                    String bits = drawn(m);
                    StringBuilder or = new StringBuilder();
                    for (int i = 0; i < bits.length(); i++) {
                        or.append(bits.charAt(i) == '1' || union.charAt(i) == '1' ? '1' : '0');
                    }
                    union = or.toString();
                }
                assertEquals(union, canvasPixels(driver), "every mask is drawn");
                long colours = ((Number) js.executeScript("const c = document.getElementById('segmask');"
                        + " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const seen = new Set();"
                        + " for (let i = 0; i < d.length; i += 4) if (d[i + 3] === 255) seen.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]);"
                        + " return seen.size;")).longValue();
                assertTrue(colours >= 2, "distinct colours: " + colours);
                screenshot(driver, "segment-everything.png");
            } finally {
                driver.quit();
            }
        }
    }

    private static void screenshot(WebDriver driver, String name) throws Exception {
        File shot = ((ChromeDriver) driver).getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), Path.of("target", name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** Clicks the middle of image pixel (x, y) on the segmentation view, wherever and however large it is shown. */
    private static void click(WebDriver driver, int x, int y, boolean right) {
        WebElement marks = driver.findElement(By.id("segmarks"));
        int[] at = offset(driver, marks, x, y);
        Actions move = new Actions(driver).moveToElement(marks, at[0], at[1]);
        (right ? move.contextClick() : move.click()).perform();
    }

    /** Drags from the middle of pixel (x0, y0) to the middle of pixel (x1, y1). */
    private static void drag(WebDriver driver, int x0, int y0, int x1, int y1) {
        WebElement marks = driver.findElement(By.id("segmarks"));
        int[] from = offset(driver, marks, x0, y0);
        int[] to = offset(driver, marks, x1, y1);
        new Actions(driver).moveToElement(marks, from[0], from[1]).clickAndHold().moveByOffset((to[0] - from[0]) / 2, (to[1] - from[1]) / 2)
                .moveToElement(marks, to[0], to[1]).release().perform();
    }

    /** The offset from the canvas's centre, in CSS pixels, of the middle of image pixel (x, y). */
    private static int[] offset(WebDriver driver, WebElement marks, int x, int y) {
        Rectangle r = marks.getRect();
        int w = ((Number) ((JavascriptExecutor) driver).executeScript("return arguments[0].width", marks)).intValue();
        int h = ((Number) ((JavascriptExecutor) driver).executeScript("return arguments[0].height", marks)).intValue();
        assertTrue(r.getWidth() >= 2 * w, "the small image is shown enlarged: " + r.getWidth() + " px for " + w);
        return new int[] {(int) Math.round((x + 0.5 - w / 2.0) * r.getWidth() / w), (int) Math.round((y + 0.5 - h / 2.0) * r.getHeight() / h)};
    }

    /** The index-th /v1/segment exchange of the page (1-based), once it has come back. */
    private static JsonNode segRequest(WebDriver driver, WebDriverWait wait, int index) throws Exception {
        wait.until(d -> ((Number) ((JavascriptExecutor) d).executeScript("return window.segLog.length")).intValue() >= index);
        String entry = (String) ((JavascriptExecutor) driver).executeScript("return JSON.stringify(window.segLog[arguments[0]])", index - 1);
        return TestServer.JSON.readTree(entry);
    }

    /** A mask of an answer as the page should draw it: '1' per pixel inside, row-major. */
    private static String drawn(JsonNode mask) {
        JsonNode rle = mask.get("rle");
        int[] counts = new int[rle.get("counts").size()];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = rle.get("counts").get(i).asInt();
        }
        boolean[] bits = new Rle(rle.get("size").get(0).asInt(), rle.get("size").get(1).asInt(), counts).decode();
        StringBuilder s = new StringBuilder(bits.length);
        for (boolean b : bits) {
            s.append(b ? '1' : '0');
        }
        return s.toString();
    }

    /** The mask canvas: '1' per pixel that is not transparent, row-major (waits for the page to draw). */
    private static String canvasPixels(WebDriver driver) {
        return (String) ((JavascriptExecutor) driver).executeScript("const c = document.getElementById('segmask');"
                + " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const out = [];"
                + " for (let i = 3; i < d.length; i += 4) out.push(d[i] ? '1' : '0'); return out.join('');");
    }

    private static void setValue(WebDriver driver, String id, String value) {
        WebElement input = driver.findElement(By.id(id));
        input.clear();
        input.sendKeys(value);
    }
}
