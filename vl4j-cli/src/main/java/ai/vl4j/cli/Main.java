package ai.vl4j.cli;
public class Main { public static void main(String[] a) { System.out.println("hi"); } }
