package ai.vl4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web chat page in headless Chromium (Debian's chromium + chromium-driver; .ci/run installs them): attach a
 * fixture image, send a prompt, watch the answer stream in, get the fixture's greedy answer, then stop a long
 * answer mid-stream. A screenshot is left in target/ for people to look at.
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

    private static void setValue(WebDriver driver, String id, String value) {
        WebElement input = driver.findElement(By.id(id));
        input.clear();
        input.sendKeys(value);
    }
}
